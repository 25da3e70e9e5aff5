/*
 * Resolution: spec parsing, topological order, cycles, unsatisfiable
 * constraints, --method, and the `requires` check. Each test runs against a
 * private IPM_HOME/IPM_CACHE/IPM_PREFIX and a local registry written here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipm/ctx.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/install.h"
#include "ipm/xalloc.h"
#include "test_util.h"

#define COMMIT "0123456789abcdef0123456789abcdef01234567"

struct fixture {
	char *root;
	char *registry;
	struct ipm_ctx ctx;
	int ctx_open;
};

/* registry/packages/<name>.json with releases (comma-separated versions),
 * depends (JSON array text or NULL) and extra top-level JSON (or NULL). */
static void add_package(struct fixture *fx, const char *name, const char *versions,
			const char *depends, const char *extra)
{
	char *path = xasprintf("%s/packages/%s.json", fx->registry, name);
	char *list = xstrdup(versions);
	char *text;
	char *releases = xstrdup("");

	for (char *save = NULL, *v = strtok_r(list, ",", &save); v; v = strtok_r(NULL, ",", &save)) {
		char *more = xasprintf("%s%s{ \"version\": \"%s\", \"git\": \"file:///nowhere/%s\", \"commit\": \"%s\" }",
				       releases, *releases ? ", " : "", v, name, COMMIT);
		free(releases);
		releases = more;
	}
	text = xasprintf("{ \"name\": \"%s\", \"description\": \"test package %s\",\n"
			 "  \"versions\": [ %s ],\n"
			 "  %s%s%s\n"
			 "  \"methods\": [ { \"name\": \"make\", \"build\": [ \"true\" ], \"install\": [ \"true\" ] },\n"
			 "                 { \"name\": \"copy\", \"install\": [ \"true\" ] } ] }\n",
			 name, name, releases,
			 depends ? "\"depends\": " : "", depends ? depends : "", depends ? "," : "");
	if (extra) {
		/* splice extra fields right after the opening brace */
		char *spliced = xasprintf("{ %s,%s", extra, text + 1);
		free(text);
		text = spliced;
	}
	tu_write_file(path, text);
	free(text);
	free(list);
	free(releases);
	free(path);
}

static int setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	char *path;

	fx->root = tu_isolated_root("plan");
	fx->registry = xasprintf("%s/registry", fx->root);

	add_package(fx, "leaf", "1.0,1.1,2.0", NULL, NULL);
	add_package(fx, "mid", "1.0", "[ { \"name\": \"leaf\", \"version\": \"^1.0\" } ]", NULL);
	add_package(fx, "top", "3.0", "[ { \"name\": \"mid\" }, { \"name\": \"leaf\" } ]",
		    "\"repo\": \"acme/top-lib\"");
	add_package(fx, "cyc-a", "1.0", "[ { \"name\": \"cyc-b\" } ]", NULL);
	add_package(fx, "cyc-b", "1.0", "[ { \"name\": \"cyc-c\" } ]", NULL);
	add_package(fx, "cyc-c", "1.0", "[ { \"name\": \"cyc-a\" } ]", NULL);
	add_package(fx, "needy", "1.0", "[ { \"name\": \"leaf\", \"version\": \">=5.0\" } ]", NULL);
	add_package(fx, "tooly", "1.0", NULL,
		    "\"requires\": [ { \"tool\": \"ipm-no-such-tool\", \"hints\": { \"debian\": \"apt-get install nst\", "
		    "\"fedora\": \"dnf install nst\", \"macos\": \"brew install nst\", \"alpine\": \"apk add nst\", "
		    "\"arch\": \"pacman -S nst\" } } ]");
	add_package(fx, "oldtool", "1.0", NULL,
		    "\"requires\": [ { \"tool\": \"fake-tool\", \"version\": \">=2.0\" } ]");
	add_package(fx, "newtool", "1.0", NULL,
		    "\"requires\": [ { \"tool\": \"fake-tool\", \"version\": \">=1.2\" } ]");

	/* fake-tool prints a version among other numbers */
	path = xasprintf("%s/bin", fx->root);
	assert_int_equal(ipm_mkdir_p(path, 0755), 0);
	{
		char *tool = xasprintf("%s/fake-tool", path);
		char *newpath = xasprintf("%s:%s", path, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
		tu_write_file(tool, "#!/bin/sh\necho \"fake-tool (x86_64 build 7) version 1.4.2-rc1\"\n");
		chmod(tool, 0755);
		setenv("PATH", newpath, 1);
		free(newpath);
		free(tool);
	}
	free(path);

	if (ipm_ctx_open(&fx->ctx, "/nonexistent/ipm", NULL, IPM_NEED_DB_WRITE) != 0)
		fail_msg("ipm_ctx_open: %s", ipm_error_message());
	fx->ctx_open = 1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	if (fx->ctx_open)
		ipm_ctx_close(&fx->ctx);
	ipm_rm_rf(fx->root);
	free(fx->root);
	free(fx->registry);
	free(fx);
	return 0;
}

static int build(struct ipm_plan *plan, struct fixture *fx, const char *spec, const char *method)
{
	const char *specs[] = { spec };
	return ipm_plan_build(plan, &fx->ctx, specs, 1, method);
}

static void test_topological_order(void **state)
{
	struct fixture *fx = *state;
	struct ipm_plan plan;

	assert_int_equal(build(&plan, fx, "top", NULL), 0);
	assert_int_equal(plan.n, 3);
	assert_string_equal(plan.items[0].entry.name, "leaf");
	assert_string_equal(plan.items[1].entry.name, "mid");
	assert_string_equal(plan.items[2].entry.name, "top");
	/* mid needs leaf ^1.0, so leaf is 1.1, not the newest 2.0 */
	assert_string_equal(plan.items[0].release->version, "1.1");
	assert_int_equal(plan.items[0].explicit_install, 0);
	assert_int_equal(plan.items[2].explicit_install, 1);
	assert_int_equal(plan.items[2].installed, 0);
	assert_null(plan.items[2].method);
	assert_string_equal(plan.items[2].source.commit, COMMIT);
	ipm_plan_release(&plan);
}

static void test_several_specs_share_dependencies(void **state)
{
	struct fixture *fx = *state;
	struct ipm_plan plan;
	const char *specs[] = { "mid", "leaf@^1" };

	assert_int_equal(ipm_plan_build(&plan, &fx->ctx, specs, 2, NULL), 0);
	assert_int_equal(plan.n, 2);
	assert_string_equal(plan.items[0].entry.name, "leaf");
	assert_string_equal(plan.items[1].entry.name, "mid");
	/* named on the command line as well */
	assert_int_equal(plan.items[0].explicit_install, 1);
	ipm_plan_release(&plan);
}

static void test_cycle(void **state)
{
	struct fixture *fx = *state;
	struct ipm_plan plan;

	assert_int_equal(build(&plan, fx, "cyc-a", NULL), IPM_EINVAL);
	assert_string_equal(ipm_error_message(), "dependency cycle: cyc-a -> cyc-b -> cyc-c -> cyc-a");
	assert_int_equal(plan.n, 0);
	assert_null(plan.items);

	assert_int_equal(build(&plan, fx, "cyc-b", NULL), IPM_EINVAL);
	assert_string_equal(ipm_error_message(), "dependency cycle: cyc-b -> cyc-c -> cyc-a -> cyc-b");
}

static void test_unsatisfiable_dependency(void **state)
{
	struct fixture *fx = *state;
	struct ipm_plan plan;

	assert_int_equal(build(&plan, fx, "needy", NULL), IPM_ENOTFOUND);
	assert_string_equal(ipm_error_message(), "no release of 'leaf' satisfies '>=5.0' (required by 'needy')");
	assert_non_null(ipm_error_hint_text());
	assert_non_null(strstr(ipm_error_hint_text(), "2.0, 1.1, 1.0"));
}

static void test_spec_name_at_version(void **state)
{
	struct fixture *fx = *state;
	struct ipm_plan plan;

	assert_int_equal(build(&plan, fx, "leaf@1.0", NULL), 0);
	assert_int_equal(plan.n, 1);
	assert_string_equal(plan.items[0].release->version, "1.0");
	ipm_plan_release(&plan);

	assert_int_equal(build(&plan, fx, "leaf@<2", NULL), 0);
	assert_string_equal(plan.items[0].release->version, "1.1");
	ipm_plan_release(&plan);

	assert_int_equal(build(&plan, fx, "leaf", NULL), 0);
	assert_string_equal(plan.items[0].release->version, "2.0");
	ipm_plan_release(&plan);

	assert_int_equal(build(&plan, fx, "leaf@9.9", NULL), IPM_ENOTFOUND);
	assert_non_null(strstr(ipm_error_message(), "no release of 'leaf' satisfies '9.9'"));

	assert_int_equal(build(&plan, fx, "leaf@", NULL), IPM_EINVAL);
	assert_int_equal(build(&plan, fx, "@1.0", NULL), IPM_EINVAL);
}

static void test_spec_owner_repo(void **state)
{
	struct fixture *fx = *state;
	struct ipm_plan plan;

	assert_int_equal(build(&plan, fx, "acme/top-lib", NULL), 0);
	assert_int_equal(plan.n, 3);
	assert_string_equal(plan.items[2].entry.name, "top");
	assert_int_equal(plan.items[2].explicit_install, 1);
	ipm_plan_release(&plan);
}

static void test_unknown_package(void **state)
{
	struct fixture *fx = *state;
	struct ipm_plan plan;

	assert_int_equal(build(&plan, fx, "laef", NULL), IPM_ENOTFOUND);
	assert_non_null(strstr(ipm_error_message(), "'laef'"));
}

static void test_entry_file_spec(void **state)
{
	struct fixture *fx = *state;
	struct ipm_plan plan;
	char *path = xasprintf("%s/packages/mid.json", fx->registry);

	assert_int_equal(build(&plan, fx, path, NULL), 0);
	assert_int_equal(plan.n, 2);
	assert_string_equal(plan.items[1].entry.name, "mid");
	assert_string_equal(plan.items[0].entry.name, "leaf");
	ipm_plan_release(&plan);
	free(path);
}

static void test_method(void **state)
{
	struct fixture *fx = *state;
	struct ipm_plan plan;

	assert_int_equal(build(&plan, fx, "mid", "copy"), 0);
	assert_non_null(plan.items[1].method);
	assert_string_equal(plan.items[1].method->name, "copy");
	ipm_plan_release(&plan);

	assert_int_equal(build(&plan, fx, "mid", "cmake"), IPM_EINVAL);
	assert_string_equal(ipm_error_message(), "package 'mid' has no install method 'cmake'");
	assert_non_null(strstr(ipm_error_hint_text(), "make, copy"));
}

static void test_requires_missing_tool(void **state)
{
	struct fixture *fx = *state;
	struct ipm_plan plan;

	assert_int_equal(build(&plan, fx, "tooly", NULL), 0);
	assert_int_equal(ipm_plan_check_requires(&fx->ctx, &plan), IPM_ENOTFOUND);
	assert_string_equal(ipm_error_message(), "'ipm-no-such-tool' is required by 'tooly' but not found on PATH");
	assert_non_null(ipm_error_hint_text());
	assert_non_null(strstr(ipm_error_hint_text(), "nst"));
	ipm_plan_release(&plan);
}

static void test_requires_version(void **state)
{
	struct fixture *fx = *state;
	struct ipm_plan plan;

	assert_int_equal(build(&plan, fx, "oldtool", NULL), 0);
	assert_int_equal(ipm_plan_check_requires(&fx->ctx, &plan), IPM_ENOTFOUND);
	assert_non_null(strstr(ipm_error_message(), "'fake-tool' 1.4.2 "));
	assert_non_null(strstr(ipm_error_message(), ">=2.0"));
	ipm_plan_release(&plan);

	assert_int_equal(build(&plan, fx, "newtool", NULL), 0);
	assert_int_equal(ipm_plan_check_requires(&fx->ctx, &plan), 0);
	ipm_plan_release(&plan);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_topological_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_several_specs_share_dependencies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsatisfiable_dependency, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spec_name_at_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spec_owner_repo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_package, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_file_spec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_method, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requires_missing_tool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requires_version, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * ipm install: resolve, show the plan with every shell step, confirm, run.
 * cli_plan_execute is that second half, shared with upgrade and import.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ipm/bincache.h"
#include "ipm/error.h"
#include "ipm/db.h"
#include "ipm/install.h"
#include "ipm/version.h"
#include "ipm/xalloc.h"

static void print_steps(const char *what, char *const *steps, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		printf("      %s: ", what);
		cli_print_shown(steps[i], 8 + (int)strlen(what));
		putchar('\n');
	}
}

static void print_method(const struct ipm_method *m, int fallback)
{
	printf("    method '");
	cli_print_shown(m->name ? m->name : "(unnamed)", 4);
	printf("'%s:\n", fallback ? " (tried if the one before fails)" : "");
	print_steps("build", m->build, m->nbuild);
	print_steps("install", m->install, m->ninstall);
}

/* An installed package that the plan moves to another version. */
static int version_changes(const struct ipm_plan_item *it)
{
	return !it->installed && it->old_version && strcmp(it->old_version, it->release->version) != 0;
}

/* The plan on stdout: what gets installed, from where, and every shell step. */
static void print_plan(struct cli *cli, const struct ipm_plan *plan, size_t todo, const char *verb)
{
	size_t i, j;

	const struct ipm_sandbox *sb = ipm_ctx_sandbox(&cli->ctx);

	printf("%sipm will %s %zu package%s %s '%s':%s\n", cli_bold(cli), verb, todo, todo == 1 ? "" : "s",
	       strcmp(verb, "upgrade") ? "into" : "in", cli->ctx.cfg.prefix, cli_reset(cli));
	if (sb->bwrap)
		printf("  recipe steps run in a sandbox (bubblewrap): no network, the file system read-only "
		       "but for the build, an empty HOME\n");
	else
		printf("  recipe steps run WITHOUT a sandbox (%s): they can read your files and use the network\n",
		       sb->why_not);
	for (i = 0; i < plan->n; i++) {
		const struct ipm_plan_item *it = &plan->items[i];
		char *source = ipm_source_describe(&it->source);

		if (it->installed) {
			printf("  %s %s (already installed)\n", it->entry.name, it->release->version);
			free(source);
			continue;
		}
		if (version_changes(it))
			printf("  %s%s %s -> %s%s%s\n", cli_bold(cli), it->entry.name, it->old_version,
			       it->release->version, cli_reset(cli),
			       ipm_version_cmp(it->release->version, it->old_version) < 0 ? " (downgrade)" : "");
		else
			printf("  %s%s %s%s%s%s\n", cli_bold(cli), it->entry.name, it->release->version,
			       cli_reset(cli), it->explicit_install ? "" : " (dependency)",
			       it->rebuild ? " (rebuilt against the new version of a dependency)" : "");
		if (it->source_note) {
			printf("    note: ");
			cli_print_shown(it->source_note, 10);
			putchar('\n');
		}
		printf("    source: ");
		cli_print_shown(source ? source : "?", 12);
		putchar('\n');
		if (it->source.subdir) {
			printf("    subdir: ");
			cli_print_shown(it->source.subdir, 12);
			putchar('\n');
		}
		if (it->guessed_note)
			printf("    %sno registry entry: %s%s\n", cli_bold(cli), it->guessed_note, cli_reset(cli));
		else
			printf("    registry: %s\n", it->registry ? it->registry
							 : it->source_note ? "none (the lock file's entry)" : "?");
		if (it->bincache && it->bincache->from) {
			const struct ipm_bincache_choice *c = it->bincache;
			if (strcmp(c->from, "local") == 0)
				printf("    from the local binary cache (build %.16s): no recipe step runs\n", c->key);
			else
				printf("    from binary cache %s (build %.16s): no recipe step runs\n", c->from, c->key);
			free(source);
			continue;
		}
		printf("    build%s%s%s\n", it->bincache && it->bincache->why_build ? " (" : "",
		       it->bincache && it->bincache->why_build ? it->bincache->why_build : "",
		       it->bincache && it->bincache->why_build ? ")" : "");
		if (it->method) {
			print_method(it->method, 0);
		} else {
			for (j = 0; j < it->entry.nmethods; j++)
				print_method(&it->entry.methods[j], j > 0);
		}
		free(source);
	}
}

/* After a failed run: the installed packages the plan was to change that
 * are still there as they were, which the user can go on using. */
static void say_kept(struct cli *cli, const struct ipm_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct ipm_plan_item *it = &plan->items[i];
		struct ipm_package_row row = { 0 };

		/* a rebuild keeps its version: the database cannot tell whether it ran */
		if (!version_changes(it))
			continue;
		if (ipm_db_package_get(&row, cli->ctx.db, it->entry.name, 0) == 0 && row.version &&
		    strcmp(row.version, it->old_version) == 0)
			fprintf(stderr, "%s %s stays installed and unchanged: %s was not installed\n", it->entry.name,
				it->old_version, it->release->version);
		ipm_package_row_release(&row);
		ipm_error_clear();
	}
}

/* A dependency the user named becomes theirs (autoremove keeps it), also
 * when nothing else is to be done. Called once the plan has run. */
static int mark_named(struct cli *cli, const struct ipm_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct ipm_plan_item *it = &plan->items[i];
		int rc;

		if (!it->installed || !it->explicit_install)
			continue;
		if ((rc = ipm_db_package_mark_explicit(cli->ctx.db, it->entry.name)) < 0)
			return rc;
		if (rc > 0 && !cli->quiet)
			fprintf(stderr, "'%s' %s was installed as a dependency: now marked as installed by name\n",
				it->entry.name, it->release->version);
	}
	return 0;
}

int cli_plan_execute(struct cli *cli, struct ipm_plan *plan, int yes, int dry_run, int trust_guess,
		     const char *verb)
{
	struct ipm_plan_outcome outcome = { 0 };
	size_t i, todo = 0, done = 0;
	int guessed = 0, rc = 0;

	cli->ctx.assume_yes = yes;
	for (i = 0; i < plan->n; i++) {
		if (!plan->items[i].installed)
			todo++;
		if (!plan->items[i].installed && plan->items[i].guessed_entry)
			guessed = 1;
	}
	if (todo == 0) {
		for (i = 0; i < plan->n; i++) {
			if (plan->items[i].explicit_install && !cli->quiet)
				fprintf(stderr, "'%s' %s is already installed\n", plan->items[i].entry.name,
					plan->items[i].release->version);
		}
		return dry_run ? 0 : mark_named(cli, plan);
	}
	/* where each tree comes from: a binary cache, or a build */
	rc = ipm_bincache_plan(&cli->ctx, plan);
	if (rc < 0)
		return rc;
	/* a dry run runs nothing from the entry: not even `TOOL --version` */
	rc = dry_run ? ipm_plan_find_requires(&cli->ctx, plan) : ipm_plan_check_requires(&cli->ctx, plan);
	if (rc < 0)
		return rc;

	/* The plan is what the user approves: shown unless they approved it
	 * already (--yes) and asked for quiet. A dry run's plan is its result. */
	if (!(cli->quiet && yes && !dry_run && (!guessed || trust_guess))) {
		print_plan(cli, plan, todo, verb);
		fflush(stdout);
	} else if (!ipm_ctx_sandbox(&cli->ctx)->bwrap) {
		/* the plan that says it is not shown: say it once here */
		fprintf(stderr, "ipm: warning: recipe steps run without a sandbox (%s)\n",
			ipm_ctx_sandbox(&cli->ctx)->why_not);
	}
	if (dry_run) {
		if (!cli->quiet)
			fprintf(stderr, "dry run: nothing was installed\n");
		return 0;
	}
	rc = ipm_plan_check_sandbox(&cli->ctx);
	if (rc < 0)
		return rc;
	if (guessed && !trust_guess) {
		/* a guessed recipe was reviewed by nobody: --yes approves a
		 * registry's plan, not this one */
		if (!cli->ctx.interactive) {
			rc = ipm_error_set(IPM_ECANCEL, "refusing to run a guessed recipe without confirmation");
			ipm_error_hint("read the steps above, then pass --trust-guess to run them");
			return rc;
		}
		if (!cli_confirm(cli, "The recipe above is a guess. Run it?"))
			return ipm_error_set(IPM_ECANCEL, "installation cancelled");
		yes = 1;
	}
	rc = cli_approve(cli, yes, "run recipe steps", strcmp(verb, "install") ? verb : "installation");
	if (rc < 0)
		return rc;

	rc = ipm_plan_execute(&cli->ctx, plan, &outcome);
	if (rc < 0) {
		/* each package's outcome first, then the error, then what stays */
		cli_plan_report(cli, plan, &outcome, rc);
		ipm_plan_outcome_release(&outcome);
		cli_error(cli, ipm_error_message(), ipm_error_hint_text());
		ipm_error_clear();
		say_kept(cli, plan);
		return CLI_EXIT_FAILURE;
	}
	ipm_plan_outcome_release(&outcome);
	/* the result lines: -q keeps them (it drops progress and notes) */
	for (i = 0; i < plan->n; i++) {
		const struct ipm_plan_item *it = &plan->items[i];
		if (it->installed)
			continue;
		done++;
		if (version_changes(it))
			fprintf(stderr, "%s %s %s -> %s\n",
				ipm_version_cmp(it->release->version, it->old_version) < 0 ? "downgraded" : "upgraded",
				it->entry.name, it->old_version, it->release->version);
		else
			fprintf(stderr, "%s %s %s\n", it->rebuild ? "rebuilt" : "installed", it->entry.name,
				it->release->version);
	}
	if (done > 1 && !cli->quiet)
		fprintf(stderr, "%s%s %zu packages\n", verb, verb[strlen(verb) - 1] == 'e' ? "d" : "ed", done);
	cli_env_note(cli);
	return mark_named(cli, plan);
}

int cmd_install(struct cli *cli, int argc, char **argv)
{
	struct ipm_plan plan = { 0 };
	const char *opt, *value, *method = NULL;
	const char **specs = NULL;
	size_t nspecs = 0;
	int dry_run = 0, yes = 0, trust_guess = 0, idx = 1, r, rc = 0;

	specs = xcalloc((size_t)argc, sizeof(*specs));
	while ((r = cli_next_option(cli, argc, argv, &idx, "--method", &opt, &value)) != -1) {
		if (r == -2) {
			rc = CLI_EXIT_USAGE;
			goto done;
		}
		if (r == 0) {
			specs[nspecs++] = argv[idx++];
			continue;
		}
		if (strcmp(opt, "-y") == 0 || strcmp(opt, "--yes") == 0)
			yes = 1;
		else if (strcmp(opt, "--dry-run") == 0)
			dry_run = 1;
		else if (strcmp(opt, "--trust-guess") == 0)
			trust_guess = yes = 1;   /* approves the guess, and so the whole plan */
		else if (strcmp(opt, "--method") == 0)
			method = value;
		else {
			rc = cli_usage_error(cli, "unknown option '%s'", opt);
			goto done;
		}
	}
	if (nspecs == 0) {
		rc = cli_usage_error(cli, "nothing to install");
		goto done;
	}
	if (method && !*method) {
		rc = cli_usage_error(cli, "option '--method' needs a name");
		goto done;
	}

	rc = cli_open(cli);
	if (rc < 0)
		goto done;
	cli->ctx.assume_yes = yes;

	rc = ipm_plan_build(&plan, &cli->ctx, specs, nspecs, method);
	if (rc < 0)
		goto done;
	rc = cli_plan_execute(cli, &plan, yes, dry_run, trust_guess, "install");
done:
	ipm_plan_release(&plan);
	free(specs);
	return rc;
}

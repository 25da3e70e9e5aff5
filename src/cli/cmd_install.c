/*
 * ipm install: resolve, show the plan with every shell step, confirm, run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ipm/bincache.h"
#include "ipm/error.h"
#include "ipm/install.h"
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

/* The plan on stdout: what gets installed, from where, and every shell step. */
static void print_plan(struct cli *cli, const struct ipm_plan *plan, size_t todo)
{
	size_t i, j;

	const struct ipm_sandbox *sb = ipm_ctx_sandbox(&cli->ctx);

	printf("%sipm will install %zu package%s into '%s':%s\n", cli_bold(cli), todo,
	       todo == 1 ? "" : "s", cli->ctx.cfg.prefix, cli_reset(cli));
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
		printf("  %s%s %s%s%s%s\n", cli_bold(cli), it->entry.name, it->release->version,
		       cli_reset(cli), it->explicit_install ? "" : " (dependency)",
		       it->rebuild ? " (rebuilt against the new version of a dependency)" : "");
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
			printf("    registry: %s\n", it->registry ? it->registry : "?");
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

int cmd_install(struct cli *cli, int argc, char **argv)
{
	struct ipm_plan plan = { 0 };
	const char *opt, *value, *method = NULL;
	const char **specs = NULL;
	size_t nspecs = 0, i, todo = 0;
	int dry_run = 0, yes = 0, trust_guess = 0, guessed = 0, idx = 1, r, rc = 0;

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
	for (i = 0; i < plan.n; i++) {
		if (!plan.items[i].installed)
			todo++;
		if (!plan.items[i].installed && plan.items[i].guessed_entry)
			guessed = 1;
	}
	if (todo == 0) {
		for (i = 0; i < plan.n; i++) {
			if (plan.items[i].explicit_install && !cli->quiet)
				fprintf(stderr, "'%s' %s is already installed\n", plan.items[i].entry.name,
					plan.items[i].release->version);
		}
		goto done;
	}
	/* where each tree comes from: a binary cache, or a build */
	rc = ipm_bincache_plan(&cli->ctx, &plan);
	if (rc < 0)
		goto done;
	/* a dry run runs nothing from the entry: not even `TOOL --version` */
	rc = dry_run ? ipm_plan_find_requires(&cli->ctx, &plan) : ipm_plan_check_requires(&cli->ctx, &plan);
	if (rc < 0)
		goto done;

	/* The plan is what the user approves: shown unless they approved it
	 * already (--yes) and asked for quiet. A dry run's plan is its result. */
	if (!(cli->quiet && yes && !dry_run && (!guessed || trust_guess))) {
		print_plan(cli, &plan, todo);
		fflush(stdout);
	} else if (!ipm_ctx_sandbox(&cli->ctx)->bwrap) {
		/* the plan that says it is not shown: say it once here */
		fprintf(stderr, "ipm: warning: recipe steps run without a sandbox (%s)\n",
			ipm_ctx_sandbox(&cli->ctx)->why_not);
	}
	if (dry_run) {
		if (!cli->quiet)
			fprintf(stderr, "dry run: nothing was installed\n");
		goto done;
	}
	rc = ipm_plan_check_sandbox(&cli->ctx);
	if (rc < 0)
		goto done;
	if (guessed && !trust_guess) {
		/* a guessed recipe was reviewed by nobody: --yes approves a
		 * registry's plan, not this one */
		if (!cli->ctx.interactive) {
			rc = ipm_error_set(IPM_ECANCEL, "refusing to run a guessed recipe without confirmation");
			ipm_error_hint("read the steps above, then pass --trust-guess to run them");
			goto done;
		}
		if (!cli_confirm(cli, "The recipe above is a guess. Run it?")) {
			rc = ipm_error_set(IPM_ECANCEL, "installation cancelled");
			goto done;
		}
		yes = 1;
	}
	rc = cli_approve(cli, yes, "run recipe steps", "installation");
	if (rc < 0)
		goto done;

	rc = ipm_plan_run(&cli->ctx, &plan);
	if (rc < 0)
		goto done;
	if (!cli->quiet) {
		for (i = 0; i < plan.n; i++) {
			if (!plan.items[i].installed)
				fprintf(stderr, "installed %s %s\n", plan.items[i].entry.name,
					plan.items[i].release->version);
		}
	}
	cli_env_note(cli);
done:
	ipm_plan_release(&plan);
	free(specs);
	return rc;
}

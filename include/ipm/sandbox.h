#ifndef IPM_SANDBOX_H
#define IPM_SANDBOX_H
#include <stddef.h>
/*
 * Containing recipe steps with bubblewrap (bwrap).
 *
 * A contained step sees the file system read-only, except its build tree,
 * its staging directory (DESTDIR) and a private /tmp; the user's HOME is
 * replaced by an empty directory (the prefix and the store stay readable
 * when they lie under it); it has no network (a network namespace of its
 * own, with only its own loopback); it runs in a PID namespace of its own,
 * so nothing it starts outlives it. Root needs no user namespace (and a
 * chroot refuses one); any other user gets one.
 */

struct ipm_sandbox {
	char *bwrap;     /* the bubblewrap to run; NULL when steps run uncontained */
	char *why_not;   /* when bwrap is NULL: why, for the plan and the warning */
	int as_root;     /* no user namespace */
};

/*
 * Finds bubblewrap (bwrap_path, else IPM_BWRAP, else `bwrap` on PATH) and
 * runs it once with the namespaces a step gets, so that a kernel or a
 * container that refuses them is found before any step runs. Always 0:
 * unavailability is out->bwrap == NULL with out->why_not set.
 * memo, when not NULL, is a file that remembers a success for this bwrap,
 * user and boot of the kernel, so that later runs skip the trial (it costs
 * as much as a step). Writing it is best effort.
 */
int ipm_sandbox_probe(struct ipm_sandbox *out, const char *bwrap_path, const char *memo);
void ipm_sandbox_release(struct ipm_sandbox *sb);

struct ipm_sandbox_step {
	const char *workdir;               /* where the step starts */
	const char *const *writable;       /* bound read-write: build tree, DESTDIR */
	size_t nwritable;
	const char *const *readable;       /* kept visible (read-only) under a hidden HOME */
	size_t nreadable;
	const char *hide;                  /* the user's HOME, hidden by an empty tmpfs; NULL: none */
};

/*
 * The argv (NULL-terminated; *n entries before the NULL; caller frees with
 * xfree_strv(argv, n)) that runs `/bin/sh -c cmd` contained as described,
 * for execve. Paths that do not exist are left out.
 */
char **ipm_sandbox_argv(size_t *n, const struct ipm_sandbox *sb, const struct ipm_sandbox_step *step,
			const char *cmd);
#endif

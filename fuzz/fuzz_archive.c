/*
 * libFuzzer target: archive extraction (src/archive.c over libarchive).
 * Each input is written to a file and extracted into a fresh directory,
 * with small limits so that a "bomb" is refused rather than written.
 * Besides not crashing: whether it succeeds or not, nothing appears next to
 * the destination, no symbolic link under it leads outside it, and no file
 * has a set-id bit.
 */
#include <dirent.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipm/config.h"
#include "ipm/error.h"
#include "ipm/fetch.h"
#include "ipm/fs.h"

static char root[] = "/tmp/ipm-fuzz-archive-XXXXXX";
static char *root_real;
static struct ipm_limits limits;

static void remove_root(void)
{
	ipm_rm_rf_quietly(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!mkdtemp(root))
		abort();
	root_real = realpath(root, NULL);
	limits = ipm_limits_default;
	limits.extract_bytes = 8 << 20;
	atexit(remove_root);
	return 0;
}

static void fail(const char *what, const char *path)
{
	fprintf(stderr, "fuzz_archive: %s: '%s'\n", what, path);
	abort();
}

/* Every symlink under dir resolves inside dest (when it resolves at all),
 * and no file carries a set-id bit. */
static void walk(const char *dir, const char *dest)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) < 0)
			continue;
		if (st.st_mode & (S_ISUID | S_ISGID))
			fail("a set-id file", path);
		if (S_ISLNK(st.st_mode)) {
			char *to = realpath(path, NULL);
			if (to && (strncmp(to, dest, strlen(dest)) != 0 ||
				   (to[strlen(dest)] != '/' && to[strlen(dest)] != '\0')))
				fail("a link that leads outside", path);
			free(to);
		} else if (S_ISDIR(st.st_mode)) {
			walk(path, dest);
		}
	}
	closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char run[PATH_MAX], archive[PATH_MAX], dest[PATH_MAX], dest_real[PATH_MAX];
	static unsigned long n;
	DIR *d;
	struct dirent *de;
	FILE *f;

	snprintf(run, sizeof(run), "%s/%lu", root_real, n++);
	snprintf(archive, sizeof(archive), "%s/archive", run);
	snprintf(dest, sizeof(dest), "%s/dest", run);
	if (mkdir(run, 0700) < 0 || !(f = fopen(archive, "wb")))
		abort();
	if (fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	(void)ipm_archive_extract_limited(archive, dest, 1, &limits);
	ipm_error_clear();
	/* only the archive and the destination: nothing written beside them */
	if ((d = opendir(run))) {
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
			    strcmp(de->d_name, "archive") && strcmp(de->d_name, "dest"))
				fail("written outside the destination", de->d_name);
		closedir(d);
	}
	snprintf(dest_real, sizeof(dest_real), "%s", dest);
	walk(dest, dest_real);
	ipm_rm_rf_quietly(run);
	return 0;
}

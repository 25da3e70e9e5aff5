#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/xalloc.h"

int ipm_mkdir_p(const char *path, unsigned mode)
{
	char *copy = xstrdup(path);
	int rc = 0;

	for (char *p = copy + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST) {
			rc = ipm_error_set(IPM_ERROR, "cannot create directory '%s': %s", copy, strerror(errno));
			goto done;
		}
		*p = saved;
		if (!saved)
			break;
	}
	if (!ipm_is_dir(path))
		rc = ipm_error_set(IPM_ERROR, "cannot create directory '%s': a file is in the way", path);
done:
	free(copy);
	return rc;
}

static int rm_rf_at(int dirfd, const char *name, const char *shown)
{
	struct stat st;
	int rc = 0;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : ipm_error_set(IPM_ERROR, "cannot remove '%s': %s", shown, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		int fd;
		DIR *dir;
		struct dirent *de;

		/* A directory a recipe made read-only (or unreadable) is still
		 * ours to delete, as with `chmod -R u+w; rm -rf`: open it up
		 * first. AT_SYMLINK_NOFOLLOW (glibc does it through /proc) keeps
		 * a symlink swapped in meanwhile from being followed. When this
		 * fails (not the owner), opening or emptying it reports why. */
		if ((st.st_mode & 0700) != 0700)
			(void)fchmodat(dirfd, name, (st.st_mode | 0700) & 07777, AT_SYMLINK_NOFOLLOW);
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return ipm_error_set(IPM_ERROR, "cannot open '%s': %s", shown, strerror(errno));
		dir = fdopendir(fd);
		if (!dir) {
			close(fd);
			return ipm_error_set(IPM_ERROR, "cannot open '%s': %s", shown, strerror(errno));
		}
		while (rc == 0 && (de = readdir(dir))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			rc = rm_rf_at(fd, de->d_name, shown);
		}
		closedir(dir);
		if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
			rc = ipm_error_set(IPM_ERROR, "cannot remove '%s': %s", shown, strerror(errno));
		return rc;
	}
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return ipm_error_set(IPM_ERROR, "cannot remove '%s': %s", shown, strerror(errno));
	return 0;
}

void ipm_rm_rf_quietly(const char *path)
{
	struct ipm_error_saved saved;

	if (ipm_error_code() == 0) {
		(void)ipm_rm_rf(path);
		ipm_error_clear();
		return;
	}
	ipm_error_save(&saved);
	(void)ipm_rm_rf(path);
	ipm_error_restore(&saved);
}

int ipm_rm_rf(const char *path)
{
	return rm_rf_at(AT_FDCWD, path, path);
}

int ipm_file_read(char **out, size_t *len, const char *path)
{
	struct ipm_buf data = IPM_BUF_INIT;
	char chunk[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	*out = NULL;
	if (fd < 0)
		return ipm_error_set(errno == ENOENT ? IPM_ENOTFOUND : IPM_ERROR,
				     "cannot read '%s': %s", path, strerror(errno));
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		ipm_buf_addn(&data, chunk, (size_t)n);
	close(fd);
	if (n < 0) {
		ipm_buf_release(&data);
		return ipm_error_set(IPM_ERROR, "cannot read '%s': %s", path, strerror(errno));
	}
	if (len)
		*len = data.len;
	*out = ipm_buf_detach(&data);
	return 0;
}

int ipm_file_write_atomic(const char *path, const void *data, size_t len)
{
	char *tmp = xasprintf("%s.tmp", path);
	const char *p = data;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = 0;

	if (fd < 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot write '%s': %s", tmp, strerror(errno));
		goto done;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = ipm_error_set(IPM_ERROR, "cannot write '%s': %s", tmp, strerror(errno));
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = ipm_error_set(IPM_ERROR, "cannot write '%s': %s", tmp, strerror(errno));
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = ipm_error_set(IPM_ERROR, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
	if (rc)
		unlink(tmp);
	if (rc == 0) {
		/* the rename itself is durable once its directory is */
		char *slash = strrchr(tmp, '/');
		if (slash == tmp)
			slash[1] = '\0';
		else if (slash)
			*slash = '\0';
		rc = ipm_dir_sync(slash ? tmp : ".");
	}
done:
	free(tmp);
	return rc;
}

int ipm_dir_sync(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	/* ENOENT: removed meanwhile; EACCES: a directory without read
	 * permission cannot be opened to be synced, nor is it ipm's */
	if (fd < 0)
		return errno == ENOENT || errno == EACCES ? 0 :
		       ipm_error_set(IPM_ERROR, "cannot sync '%s': %s", dir, strerror(errno));
	/* EINVAL: a file system that has nothing to sync */
	if (fsync(fd) < 0 && errno != EINVAL)
		rc = ipm_error_set(IPM_ERROR, "cannot sync '%s': %s", dir, strerror(errno));
	close(fd);
	return rc;
}

int ipm_path_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

int ipm_is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int ipm_is_hex(const char *s, size_t n)
{
	size_t i;

	if (!s)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return 0;
	}
	return s[n] == '\0';
}

char *ipm_path_absolute(const char *path)
{
	struct ipm_buf b = IPM_BUF_INIT;
	char *cwd = NULL;

	if (path[0] == '/')
		return xstrdup(path);
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return xstrdup(path);
	ipm_buf_add(&b, cwd);
	free(cwd);
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	if (strcmp(path, ".") != 0)
		ipm_buf_addpath(&b, path);
	return ipm_buf_detach(&b);
}

char *ipm_link_read(const char *path)
{
	struct ipm_buf b = IPM_BUF_INIT;
	size_t size = 256;

	for (;;) {
		ssize_t n;
		ipm_buf_grow(&b, size);
		n = readlink(path, b.ptr, size);
		if (n < 0) {
			ipm_buf_release(&b);
			return NULL;
		}
		if ((size_t)n < size) {
			b.ptr[n] = '\0';
			b.len = (size_t)n;
			return ipm_buf_detach(&b);
		}
		size *= 2;
	}
}

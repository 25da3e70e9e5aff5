#ifndef IPM_FS_H
#define IPM_FS_H
#include <stddef.h>
/*
 * File-system helpers. All return 0 or a negative IPM_E* code with the error
 * slot set (message names the path and strerror).
 */

/* mkdir -p; existing directories are fine. */
int ipm_mkdir_p(const char *path, unsigned mode);
/* rm -rf; a missing path is fine. Never follows symlinks. Directories
 * without owner rwx (a recipe's `chmod 555 dir`) are made u+rwx first, so
 * that whatever its owner may delete goes. */
int ipm_rm_rf(const char *path);
/* ipm_rm_rf for clean-up: the error slot is left as it was (the error that
 * led here matters more than one from removing its leftovers). */
void ipm_rm_rf_quietly(const char *path);
/* Reads a whole file; *out is NUL-terminated, *len may be NULL. */
int ipm_file_read(char **out, size_t *len, const char *path);
/* Writes data to path.tmp, fsyncs and renames over path, then fsyncs the
 * directory, so that the new content survives a power loss. */
int ipm_file_write_atomic(const char *path, const void *data, size_t len);
/* fsync of a directory: the entries created, renamed or removed in it
 * become durable. A missing directory is fine (nothing left to sync). */
int ipm_dir_sync(const char *dir);
/* 1 if path exists (lstat), 0 if not. */
/* path made absolute against the current directory (leading "./" dropped);
 * an absolute path is copied as it is. */
char *ipm_path_absolute(const char *path);
/* The target of the symbolic link at path, or NULL (errno set) when it is
 * none or cannot be read. */
char *ipm_link_read(const char *path);
int ipm_path_exists(const char *path);
int ipm_is_dir(const char *path);
/* sha256 of a file / of bytes as 64 lowercase hex chars + NUL (OpenSSL libcrypto). */
int ipm_sha256_file(char out_hex[65], const char *path);
void ipm_sha256_hex(char out_hex[65], const void *data, size_t len);
/* 1 if s is exactly n lowercase-or-uppercase hex digits. */
int ipm_is_hex(const char *s, size_t n);
#endif

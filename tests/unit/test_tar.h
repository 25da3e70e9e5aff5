#ifndef IPM_TEST_TAR_H
#define IPM_TEST_TAR_H
/*
 * Tar archives with chosen members, written with libarchive, for the tests
 * of extraction (what is refused, what survives). Include after <cmocka.h>.
 */
#include <string.h>
#include <archive.h>
#include <archive_entry.h>

struct tu_member {
	const char *name;
	char type;            /* 'f' file, 'd' dir, 'l' symlink, 'h' hard link, 'c' char device */
	const char *data;     /* file content or link target */
};

/* Writes the members to path as a pax tar, gzipped when gzip. Files carry
 * set-id bits, which extraction must not keep. */
static inline void tu_write_tar(const char *path, const struct tu_member *m, size_t n, int gzip)
{
	struct archive *a = archive_write_new();

	archive_write_set_format_pax_restricted(a);
	if (gzip)
		archive_write_add_filter_gzip(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, m[i].name);
		switch (m[i].type) {
		case 'f':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 06755);
			archive_entry_set_size(e, (la_int64_t)strlen(m[i].data));
			break;
		case 'd':
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
			break;
		case 'l':
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_perm(e, 0777);
			archive_entry_set_symlink(e, m[i].data);
			break;
		case 'h':
			/* a hard link member carries no type of its own in tar */
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_hardlink(e, m[i].data);
			break;
		case 'c':
			archive_entry_set_filetype(e, AE_IFCHR);
			archive_entry_set_perm(e, 0644);
			break;
		}
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (m[i].type == 'f')
			assert_int_equal(archive_write_data(a, m[i].data, strlen(m[i].data)),
					 (la_ssize_t)strlen(m[i].data));
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}
#endif

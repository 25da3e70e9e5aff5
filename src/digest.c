/*
 * sha256 with libcrypto. Apart from fs.c because libcrypto is part of the
 * fetch layer (see fetch-layer.h): the commands that only read the
 * database never load it.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "ipm/error.h"
#include "ipm/fs.h"

static void hex_encode(char out_hex[65], const unsigned char *md)
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out_hex[2 * i] = digits[md[i] >> 4];
		out_hex[2 * i + 1] = digits[md[i] & 15];
	}
	out_hex[64] = '\0';
}

void ipm_sha256_hex(char out_hex[65], const void *data, size_t len)
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	hex_encode(out_hex, md);
}

int ipm_sha256_file(char out_hex[65], const char *path)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	unsigned char chunk[65536];
	EVP_MD_CTX *md_ctx = NULL;
	int fd = -1, rc = 0;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = ipm_error_set(errno == ENOENT ? IPM_ENOTFOUND : IPM_ERROR,
				   "cannot read '%s': %s", path, strerror(errno));
		goto done;
	}
	md_ctx = EVP_MD_CTX_new();
	if (!md_ctx || !EVP_DigestInit_ex(md_ctx, EVP_sha256(), NULL)) {
		rc = ipm_error_set(IPM_ERROR, "cannot hash '%s': libcrypto failed", path);
		goto done;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		EVP_DigestUpdate(md_ctx, chunk, (size_t)n);
	if (n < 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot read '%s': %s", path, strerror(errno));
		goto done;
	}
	EVP_DigestFinal_ex(md_ctx, md, &mdlen);
	hex_encode(out_hex, md);
done:
	EVP_MD_CTX_free(md_ctx);
	if (fd >= 0)
		close(fd);
	return rc;
}

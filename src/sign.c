/*
 * Ed25519 signatures in minisign's formats, through libsodium (formats and
 * contracts in include/ipm/sign.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/sign.h"
#include "ipm/xalloc.h"

#define UNTRUSTED_PREFIX "untrusted comment: "
#define TRUSTED_PREFIX "trusted comment: "
#define ALG_PLAIN "Ed"      /* the signature of the data itself (legacy) */
#define ALG_HASHED "ED"     /* the signature of BLAKE2b-512(data) */
#define KDF_NONE "\0\0"
#define KDF_SCRYPT "Sc"
#define CHK_BLAKE2 "B2"
#define CHK_BYTES 32
#define SALT_BYTES 32
#define SIG_BYTES 64

/* Bytes of the decoded forms. */
#define PUBKEY_BLOB (2 + IPM_SIGN_KEYID_BYTES + IPM_SIGN_PUBLIC_BYTES)
#define SECKEY_BLOB (2 + 2 + 2 + SALT_BYTES + 8 + 8 + IPM_SIGN_KEYID_BYTES + IPM_SIGN_SECRET_BYTES + CHK_BYTES)
#define SIG_BLOB (2 + IPM_SIGN_KEYID_BYTES + SIG_BYTES)
/* Offsets in the secret key blob. */
#define SK_KDF 2
#define SK_CHKALG 4
#define SK_KEYID (6 + SALT_BYTES + 16)
#define SK_KEY (SK_KEYID + IPM_SIGN_KEYID_BYTES)
#define SK_CHK (SK_KEY + IPM_SIGN_SECRET_BYTES)

/* Longest key or signature file read (minisign's trusted comments stop at
 * 8 KiB). */
#define MAX_FILE 16384

static int sodium_ready(void)
{
	if (sodium_init() < 0)
		return ipm_error_set(IPM_ERROR, "cannot initialise libsodium");
	return 0;
}

void ipm_sign_seckey_clear(struct ipm_sign_seckey *sk)
{
	if (sk)
		sodium_memzero(sk, sizeof(*sk));
}

void ipm_sign_keyid_hex(char out[17], const unsigned char keyid[IPM_SIGN_KEYID_BYTES])
{
	static const char digits[] = "0123456789ABCDEF";

	for (int i = 0; i < IPM_SIGN_KEYID_BYTES; i++) {
		unsigned char b = keyid[IPM_SIGN_KEYID_BYTES - 1 - i];
		out[2 * i] = digits[b >> 4];
		out[2 * i + 1] = digits[b & 15];
	}
	out[16] = '\0';
}

int ipm_sign_keygen(struct ipm_sign_seckey *sk, struct ipm_sign_pubkey *pk)
{
	int rc;

	if ((rc = sodium_ready()) < 0)
		return rc;
	randombytes_buf(sk->keyid, sizeof(sk->keyid));
	if (crypto_sign_keypair(pk->pk, sk->sk) != 0)
		return ipm_error_set(IPM_ERROR, "cannot generate a key pair");
	memcpy(pk->keyid, sk->keyid, sizeof(pk->keyid));
	return 0;
}

void ipm_sign_public_of(struct ipm_sign_pubkey *out, const struct ipm_sign_seckey *sk)
{
	memcpy(out->keyid, sk->keyid, sizeof(out->keyid));
	/* libsodium's secret key is seed | public key */
	memcpy(out->pk, sk->sk + IPM_SIGN_SECRET_BYTES - IPM_SIGN_PUBLIC_BYTES, sizeof(out->pk));
}

/* ---- text helpers ---- */

static char *to_base64(const unsigned char *bin, size_t len)
{
	size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *out = xmalloc(n);

	sodium_bin2base64(out, n, bin, len, sodium_base64_VARIANT_ORIGINAL);
	return out;
}

/* Decodes exactly `want` bytes from the base64 text b64[0..len). */
static int from_base64(unsigned char *out, size_t want, const char *b64, size_t len)
{
	size_t got = 0;

	if (sodium_base642bin(out, want, b64, len, NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
		return -1;
	return got == want ? 0 : -1;
}

/* The next line of [*p, end): its start and length without "\r\n";
 * 0 at the end of the text. */
static int next_line(const char **line, size_t *len, const char **p, const char *end)
{
	const char *nl;

	if (*p >= end)
		return 0;
	*line = *p;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	*len = (size_t)((nl ? nl : end) - *p);
	*p = nl ? nl + 1 : end;
	while (*len && (*line)[*len - 1] == '\r')
		(*len)--;
	return 1;
}

static int starts_with(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && !memcmp(s, prefix, n);
}

/* Reads a small text file (key or signature). */
static int read_small(char **out, size_t *len, const char *path, const char *what)
{
	struct stat st;

	*out = NULL;
	if (stat(path, &st) < 0)
		return ipm_error_set(IPM_ENOTFOUND, "%s '%s' not found", what, path);
	if (!S_ISREG(st.st_mode) || st.st_size > MAX_FILE)
		return ipm_error_set(IPM_EINVAL, "'%s' is not a %s file", path, what);
	return ipm_file_read(out, len, path);
}

/* ---- public keys ---- */

char *ipm_sign_pubkey_base64(const struct ipm_sign_pubkey *pk)
{
	unsigned char blob[PUBKEY_BLOB];

	memcpy(blob, ALG_PLAIN, 2);
	memcpy(blob + 2, pk->keyid, IPM_SIGN_KEYID_BYTES);
	memcpy(blob + 2 + IPM_SIGN_KEYID_BYTES, pk->pk, IPM_SIGN_PUBLIC_BYTES);
	return to_base64(blob, sizeof(blob));
}

static int pubkey_decode(struct ipm_sign_pubkey *out, const char *b64, size_t len)
{
	unsigned char blob[PUBKEY_BLOB];

	while (len && (*b64 == ' ' || *b64 == '\t')) {
		b64++;
		len--;
	}
	while (len && (b64[len - 1] == ' ' || b64[len - 1] == '\t'))
		len--;
	if (from_base64(blob, sizeof(blob), b64, len) < 0)
		return ipm_error_set(IPM_EINVAL, "not a minisign public key: it must be the 56 characters "
				     "of base64 that start with 'RW'");
	if (memcmp(blob, ALG_PLAIN, 2))
		return ipm_error_set(IPM_EINVAL, "not a minisign public key: unknown algorithm '%c%c'",
				     blob[0] >= 32 && blob[0] < 127 ? blob[0] : '?',
				     blob[1] >= 32 && blob[1] < 127 ? blob[1] : '?');
	memcpy(out->keyid, blob + 2, IPM_SIGN_KEYID_BYTES);
	memcpy(out->pk, blob + 2 + IPM_SIGN_KEYID_BYTES, IPM_SIGN_PUBLIC_BYTES);
	return 0;
}

int ipm_sign_pubkey_parse(struct ipm_sign_pubkey *out, const char *text)
{
	const char *p = text, *end = text + strlen(text), *line;
	size_t len;

	memset(out, 0, sizeof(*out));
	/* skip leading blank lines */
	while (next_line(&line, &len, &p, end)) {
		size_t i = 0;
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len)
			continue;
		if (starts_with(line, len, UNTRUSTED_PREFIX)) {
			if (!next_line(&line, &len, &p, end))
				return ipm_error_set(IPM_EINVAL, "not a minisign public key: no key after "
						     "the comment line");
		}
		return pubkey_decode(out, line, len);
	}
	return ipm_error_set(IPM_EINVAL, "not a minisign public key: it is empty");
}

int ipm_sign_pubkey_load(struct ipm_sign_pubkey *out, const char *spec)
{
	char *text = NULL;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	if (ipm_sign_pubkey_parse(out, spec) == 0)
		return 0;
	ipm_error_clear();
	if (!ipm_path_exists(spec)) {
		rc = ipm_error_set(IPM_EINVAL, "'%s' is neither a public key nor a key file", spec);
		ipm_error_hint("give the key as minisign prints it (RW...) or the path of its .pub file");
		return rc;
	}
	if ((rc = read_small(&text, &len, spec, "public key")) < 0)
		return rc;
	if (strlen(text) != len) {
		rc = ipm_error_set(IPM_EINVAL, "'%s' is not a public key file", spec);
	} else if ((rc = ipm_sign_pubkey_parse(out, text)) < 0) {
		ipm_error_prefix("'%s'", spec);
	}
	free(text);
	return rc;
}

char *ipm_sign_pubkey_file_text(const struct ipm_sign_pubkey *pk)
{
	char id[17], *b64 = ipm_sign_pubkey_base64(pk), *text;

	ipm_sign_keyid_hex(id, pk->keyid);
	text = xasprintf(UNTRUSTED_PREFIX "ipm registry public key %s\n%s\n", id, b64);
	free(b64);
	return text;
}

/* ---- secret keys ---- */

static void seckey_checksum(unsigned char out[CHK_BYTES], const struct ipm_sign_seckey *sk)
{
	crypto_generichash_state hs;

	crypto_generichash_init(&hs, NULL, 0, CHK_BYTES);
	crypto_generichash_update(&hs, (const unsigned char *)ALG_PLAIN, 2);
	crypto_generichash_update(&hs, sk->keyid, sizeof(sk->keyid));
	crypto_generichash_update(&hs, sk->sk, sizeof(sk->sk));
	crypto_generichash_final(&hs, out, CHK_BYTES);
}

char *ipm_sign_seckey_file_text(const struct ipm_sign_seckey *sk)
{
	unsigned char blob[SECKEY_BLOB];
	char *b64, *text;

	memset(blob, 0, sizeof(blob));
	memcpy(blob, ALG_PLAIN, 2);
	memcpy(blob + SK_KDF, KDF_NONE, 2);
	memcpy(blob + SK_CHKALG, CHK_BLAKE2, 2);
	/* salt and limits stay zero: nothing is derived from a password */
	memcpy(blob + SK_KEYID, sk->keyid, IPM_SIGN_KEYID_BYTES);
	memcpy(blob + SK_KEY, sk->sk, IPM_SIGN_SECRET_BYTES);
	seckey_checksum(blob + SK_CHK, sk);
	b64 = to_base64(blob, sizeof(blob));
	text = xasprintf(UNTRUSTED_PREFIX "ipm registry secret key (unencrypted)\n%s\n", b64);
	sodium_memzero(blob, sizeof(blob));
	sodium_memzero(b64, strlen(b64));
	free(b64);
	return text;
}

int ipm_sign_seckey_load(struct ipm_sign_seckey *out, const char *path)
{
	unsigned char blob[SECKEY_BLOB], chk[CHK_BYTES];
	const char *p, *end, *line;
	char *text = NULL;
	size_t len = 0, line_len;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if ((rc = sodium_ready()) < 0 || (rc = read_small(&text, &len, path, "secret key")) < 0)
		return rc;
	p = text;
	end = text + len;
	if (!next_line(&line, &line_len, &p, end) || !starts_with(line, line_len, UNTRUSTED_PREFIX) ||
	    !next_line(&line, &line_len, &p, end) || from_base64(blob, sizeof(blob), line, line_len) < 0) {
		rc = ipm_error_set(IPM_EINVAL, "'%s' is not a minisign secret key file", path);
		ipm_error_hint("make a key pair with: ipm registry keygen");
		goto done;
	}
	if (memcmp(blob, ALG_PLAIN, 2) || memcmp(blob + SK_CHKALG, CHK_BLAKE2, 2)) {
		rc = ipm_error_set(IPM_EINVAL, "secret key '%s' uses an unknown algorithm", path);
		goto done;
	}
	if (!memcmp(blob + SK_KDF, KDF_SCRYPT, 2)) {
		rc = ipm_error_set(IPM_EINVAL, "secret key '%s' is encrypted with a password", path);
		ipm_error_hint("ipm signs unattended: remove the password with 'minisign -C -W -s %s', "
			       "or sign with 'minisign -S'", path);
		goto done;
	}
	if (memcmp(blob + SK_KDF, KDF_NONE, 2)) {
		rc = ipm_error_set(IPM_EINVAL, "secret key '%s' uses an unknown key derivation", path);
		goto done;
	}
	memcpy(out->keyid, blob + SK_KEYID, IPM_SIGN_KEYID_BYTES);
	memcpy(out->sk, blob + SK_KEY, IPM_SIGN_SECRET_BYTES);
	/* minisign -W leaves the checksum of an unencrypted key zero */
	seckey_checksum(chk, out);
	if (!sodium_is_zero(blob + SK_CHK, CHK_BYTES) && sodium_memcmp(chk, blob + SK_CHK, CHK_BYTES)) {
		rc = ipm_error_set(IPM_EINVAL, "secret key '%s' is damaged: its checksum does not match", path);
		ipm_sign_seckey_clear(out);
		goto done;
	}
done:
	sodium_memzero(blob, sizeof(blob));
	if (text) {
		sodium_memzero(text, len);
		free(text);
	}
	return rc;
}

/* Creates path with mode and writes text, refusing an existing file. */
static int write_new(const char *path, const char *text, mode_t mode)
{
	size_t len = strlen(text), done = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0) {
		if (errno == EEXIST) {
			int rc = ipm_error_set(IPM_EEXISTS, "'%s' already exists", path);
			ipm_error_hint("keep the key you have, or move it away first (every client pinned it)");
			return rc;
		}
		return ipm_error_set(IPM_ERROR, "cannot create '%s': %s", path, strerror(errno));
	}
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (done < len || fsync(fd) < 0) {
		int rc = ipm_error_set(IPM_ERROR, "cannot write '%s': %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return rc;
	}
	close(fd);
	return 0;
}

int ipm_sign_keygen_files(char **out_sk_path, char **out_pk_path, struct ipm_sign_pubkey *out_pk,
			  const char *dir)
{
	struct ipm_sign_seckey sk;
	struct ipm_buf sk_path = IPM_BUF_INIT, pk_path = IPM_BUF_INIT;
	char *sk_text = NULL, *pk_text = NULL;
	int rc;

	*out_sk_path = *out_pk_path = NULL;
	memset(&sk, 0, sizeof(sk));
	ipm_buf_add(&sk_path, dir);
	ipm_buf_addpath(&sk_path, "registry.key");
	ipm_buf_add(&pk_path, dir);
	ipm_buf_addpath(&pk_path, "registry.pub");
	if (!ipm_is_dir(dir)) {
		rc = ipm_error_set(IPM_ENOTFOUND, "directory '%s' not found", dir);
		ipm_error_hint("create it first: mkdir -p %s", dir);
		goto done;
	}
	/* neither file is written when either exists */
	for (int i = 0; i < 2; i++) {
		const char *path = i ? pk_path.ptr : sk_path.ptr;
		if (ipm_path_exists(path)) {
			rc = ipm_error_set(IPM_EEXISTS, "'%s' already exists", path);
			ipm_error_hint("keep the key pair you have, or move it away first (every client "
				       "pinned its public key)");
			goto done;
		}
	}
	if ((rc = ipm_sign_keygen(&sk, out_pk)) < 0)
		goto done;
	sk_text = ipm_sign_seckey_file_text(&sk);
	pk_text = ipm_sign_pubkey_file_text(out_pk);
	if ((rc = write_new(sk_path.ptr, sk_text, 0600)) < 0)
		goto done;
	if ((rc = write_new(pk_path.ptr, pk_text, 0644)) < 0) {
		unlink(sk_path.ptr);
		goto done;
	}
	*out_sk_path = ipm_buf_detach(&sk_path);
	*out_pk_path = ipm_buf_detach(&pk_path);
done:
	ipm_sign_seckey_clear(&sk);
	if (sk_text) {
		sodium_memzero(sk_text, strlen(sk_text));
		free(sk_text);
	}
	free(pk_text);
	ipm_buf_release(&sk_path);
	ipm_buf_release(&pk_path);
	return rc;
}

/* ---- signatures ---- */

int ipm_sign_data(char **out_sig, const struct ipm_sign_seckey *sk, const void *data, size_t len,
		  const char *trusted_comment, const char *file_name)
{
	unsigned char blob[SIG_BLOB], hash[crypto_generichash_BYTES_MAX], global[SIG_BYTES];
	struct ipm_buf text = IPM_BUF_INIT, signed_part = IPM_BUF_INIT;
	char *comment = NULL, *b64 = NULL;
	int rc;

	*out_sig = NULL;
	if ((rc = sodium_ready()) < 0)
		return rc;
	if (trusted_comment)
		comment = xstrdup(trusted_comment);
	else
		comment = xasprintf("timestamp:%lld\tfile:%s\thashed", (long long)time(NULL),
				    file_name ? file_name : "-");
	if (strpbrk(comment, "\r\n")) {
		rc = ipm_error_set(IPM_EINVAL, "a trusted comment is one line");
		goto done;
	}
	crypto_generichash(hash, sizeof(hash), data, len, NULL, 0);
	memcpy(blob, ALG_HASHED, 2);
	memcpy(blob + 2, sk->keyid, IPM_SIGN_KEYID_BYTES);
	crypto_sign_detached(blob + 2 + IPM_SIGN_KEYID_BYTES, NULL, hash, sizeof(hash), sk->sk);
	/* the global signature binds the trusted comment to this signature */
	ipm_buf_addn(&signed_part, blob + 2 + IPM_SIGN_KEYID_BYTES, SIG_BYTES);
	ipm_buf_add(&signed_part, comment);
	crypto_sign_detached(global, NULL, (const unsigned char *)signed_part.ptr, signed_part.len, sk->sk);

	ipm_buf_add(&text, UNTRUSTED_PREFIX "signature from ipm secret key\n");
	b64 = to_base64(blob, sizeof(blob));
	ipm_buf_add(&text, b64);
	free(b64);
	ipm_buf_addf(&text, "\n" TRUSTED_PREFIX "%s\n", comment);
	b64 = to_base64(global, sizeof(global));
	ipm_buf_add(&text, b64);
	ipm_buf_addch(&text, '\n');
	*out_sig = ipm_buf_detach(&text);
done:
	free(b64);
	free(comment);
	ipm_buf_release(&text);
	ipm_buf_release(&signed_part);
	return rc;
}

int ipm_sign_verify(char **out_trusted_comment, const struct ipm_sign_pubkey *pk, const void *data,
		    size_t len, const char *sig_text, size_t sig_len)
{
	unsigned char blob[SIG_BLOB], global[SIG_BYTES], hash[crypto_generichash_BYTES_MAX];
	const char *p = sig_text, *end = sig_text + sig_len, *line, *comment;
	struct ipm_buf signed_part = IPM_BUF_INIT;
	size_t line_len, comment_len;
	int rc, hashed;

	if (out_trusted_comment)
		*out_trusted_comment = NULL;
	if ((rc = sodium_ready()) < 0)
		return rc;
	if (sig_len > MAX_FILE)
		return ipm_error_set(IPM_EINVAL, "malformed signature: more than %d bytes", MAX_FILE);
	if (!next_line(&line, &line_len, &p, end) || !starts_with(line, line_len, UNTRUSTED_PREFIX))
		return ipm_error_set(IPM_EINVAL, "malformed signature: the first line must start with '%s'",
				     UNTRUSTED_PREFIX);
	if (!next_line(&line, &line_len, &p, end) || from_base64(blob, sizeof(blob), line, line_len) < 0)
		return ipm_error_set(IPM_EINVAL, "malformed signature: the second line must be the base64 "
				     "of a signature");
	if (!memcmp(blob, ALG_HASHED, 2))
		hashed = 1;
	else if (!memcmp(blob, ALG_PLAIN, 2))
		hashed = 0;
	else
		return ipm_error_set(IPM_EINVAL, "malformed signature: unknown algorithm");
	if (!next_line(&comment, &comment_len, &p, end) || !starts_with(comment, comment_len, TRUSTED_PREFIX))
		return ipm_error_set(IPM_EINVAL, "malformed signature: the third line must start with '%s'",
				     TRUSTED_PREFIX);
	comment += strlen(TRUSTED_PREFIX);
	comment_len -= strlen(TRUSTED_PREFIX);
	if (!next_line(&line, &line_len, &p, end) || from_base64(global, sizeof(global), line, line_len) < 0)
		return ipm_error_set(IPM_EINVAL, "malformed signature: the fourth line must be the base64 "
				     "of the trusted comment's signature");

	if (memcmp(blob + 2, pk->keyid, IPM_SIGN_KEYID_BYTES)) {
		char got[17], want[17];
		ipm_sign_keyid_hex(got, blob + 2);
		ipm_sign_keyid_hex(want, pk->keyid);
		return ipm_error_set(IPM_EVERIFY, "signed with another key: key id %s, expected %s", got, want);
	}
	if (hashed) {
		crypto_generichash(hash, sizeof(hash), data, len, NULL, 0);
		rc = crypto_sign_verify_detached(blob + 2 + IPM_SIGN_KEYID_BYTES, hash, sizeof(hash), pk->pk);
	} else {
		rc = crypto_sign_verify_detached(blob + 2 + IPM_SIGN_KEYID_BYTES, data, len, pk->pk);
	}
	if (rc != 0)
		return ipm_error_set(IPM_EVERIFY, "the signature does not match the data");
	ipm_buf_addn(&signed_part, blob + 2 + IPM_SIGN_KEYID_BYTES, SIG_BYTES);
	ipm_buf_addn(&signed_part, comment, comment_len);
	rc = crypto_sign_verify_detached(global, (const unsigned char *)signed_part.ptr, signed_part.len, pk->pk);
	ipm_buf_release(&signed_part);
	if (rc != 0)
		return ipm_error_set(IPM_EVERIFY, "the trusted comment's signature does not verify");
	if (out_trusted_comment)
		*out_trusted_comment = xstrndup(comment, comment_len);
	return 0;
}

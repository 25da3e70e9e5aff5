#ifndef IPM_SIGN_H
#define IPM_SIGN_H
#include <stddef.h>
/*
 * Ed25519 signatures (libsodium) in minisign's formats, so that `minisign -V`
 * verifies what ipm signs and ipm verifies what `minisign -S` signs.
 *
 * Public key, "RW..." as minisign prints it: base64 of
 *     "Ed" | key id (8 bytes) | Ed25519 public key (32 bytes)
 * and as a file, a comment line before it:
 *     untrusted comment: <text>
 *     RW...
 * Secret key file (unencrypted: the KDF bytes are 0,0, which minisign 0.11
 * reads without a password, as it writes with -W):
 *     untrusted comment: <text>
 *     base64 of "Ed" | kdf (0,0) | "B2" | salt (32) | opslimit (8) | memlimit (8)
 *               | key id (8) | Ed25519 secret key (64) | BLAKE2b-256 checksum (32)
 * Signature file, served beside the signed file as FILE.minisig:
 *     untrusted comment: <text>
 *     base64 of "ED" | key id (8) | Ed25519 signature of BLAKE2b-512(data) (64)
 *     trusted comment: <one line>
 *     base64 of the Ed25519 signature of (the 64 signature bytes | trusted comment)
 * ipm signs "ED" (prehashed, minisign's default since 0.11) and verifies both
 * "ED" and the legacy "Ed" (a signature of the data itself).
 *
 * Key ids are shown as minisign shows them: 16 upper-case hex digits of the
 * 8 bytes read as a little-endian number.
 *
 * Errors: IPM_EINVAL for a malformed key or signature text, IPM_EVERIFY for a
 * signature that does not verify, with a message that says which (see
 * ipm_sign_verify); callers prefix what was being checked.
 */

#define IPM_SIGN_KEYID_BYTES 8
#define IPM_SIGN_PUBLIC_BYTES 32
#define IPM_SIGN_SECRET_BYTES 64

struct ipm_sign_pubkey {
	unsigned char keyid[IPM_SIGN_KEYID_BYTES];
	unsigned char pk[IPM_SIGN_PUBLIC_BYTES];
};

struct ipm_sign_seckey {
	unsigned char keyid[IPM_SIGN_KEYID_BYTES];
	unsigned char sk[IPM_SIGN_SECRET_BYTES];   /* seed | public key, libsodium's layout */
};

/* Wipes a secret key (sodium_memzero). */
void ipm_sign_seckey_clear(struct ipm_sign_seckey *sk);

/* The key id as minisign prints it: 16 upper-case hex digits and a NUL. */
void ipm_sign_keyid_hex(char out[17], const unsigned char keyid[IPM_SIGN_KEYID_BYTES]);

/* A new key pair with a random key id. */
int ipm_sign_keygen(struct ipm_sign_seckey *sk, struct ipm_sign_pubkey *pk);
/* The public key of a secret key. */
void ipm_sign_public_of(struct ipm_sign_pubkey *out, const struct ipm_sign_seckey *sk);

/* "RW..." (56 characters); caller frees. */
char *ipm_sign_pubkey_base64(const struct ipm_sign_pubkey *pk);
/* Parses a public key given as "RW..." (surrounding white space allowed) or
 * as the text of a .pub file (an "untrusted comment:" line, then the key).
 * IPM_EINVAL "not a minisign public key" (with what is wrong) otherwise. */
int ipm_sign_pubkey_parse(struct ipm_sign_pubkey *out, const char *text);
/* What `--key` takes: the key itself, or the path of a .pub file holding it.
 * IPM_EINVAL naming spec when it is neither. */
int ipm_sign_pubkey_load(struct ipm_sign_pubkey *out, const char *spec);

/* The texts of the two key files; caller frees (the secret one after
 * wiping it, e.g. with sodium_memzero, if it cares). */
char *ipm_sign_pubkey_file_text(const struct ipm_sign_pubkey *pk);
char *ipm_sign_seckey_file_text(const struct ipm_sign_seckey *sk);
/* Reads a secret key file. An encrypted key (minisign's default, KDF
 * "Sc") is IPM_EINVAL with the hint to remove its password with
 * `minisign -C -W`; a damaged one (checksum) is IPM_EINVAL too. */
int ipm_sign_seckey_load(struct ipm_sign_seckey *out, const char *path);

/*
 * Writes a new key pair into dir as registry.key (mode 0600) and
 * registry.pub, refusing (IPM_EEXISTS, nothing written) when either exists.
 * *out_sk_path and *out_pk_path (caller frees) name the files; *out_pk is
 * the public key.
 */
int ipm_sign_keygen_files(char **out_sk_path, char **out_pk_path, struct ipm_sign_pubkey *out_pk,
			  const char *dir);

/*
 * Signs data ("ED", prehashed) and returns the text of its .minisig file
 * (caller frees). trusted_comment is one line (no '\r' or '\n'); NULL gives
 * minisign's "timestamp:<now>\tfile:<file_name>\thashed". file_name may be
 * NULL when trusted_comment is given.
 */
int ipm_sign_data(char **out_sig, const struct ipm_sign_seckey *sk, const void *data, size_t len,
		  const char *trusted_comment, const char *file_name);

/*
 * Verifies sig_text (a .minisig file's text) for data with pk. Returns 0, and
 * the trusted comment in *out_trusted_comment (may be NULL; caller frees),
 * or:
 *   IPM_EINVAL   "malformed signature: <what>"
 *   IPM_EVERIFY  "signed with another key: key id <sig's>, expected <pk's>"
 *   IPM_EVERIFY  "the signature does not match the data"
 *   IPM_EVERIFY  "the trusted comment's signature does not verify"
 */
int ipm_sign_verify(char **out_trusted_comment, const struct ipm_sign_pubkey *pk, const void *data,
		    size_t len, const char *sig_text, size_t sig_len);
#endif

/* Signed registries: minisign's key and signature formats (src/sign.c),
 * checked against vectors minisign 0.11 wrote; the freshness fields of an
 * index and their stamping (registry.c, publish.c); the plain-http rule. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "ipm/buf.h"
#include "ipm/config.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/publish.h"
#include "ipm/registry.h"
#include "ipm/sign.h"
#include "ipm/xalloc.h"
#include "test_util.h"

/* Written by minisign 0.11: `minisign -G -W`, then `minisign -S -t 'ipm
 * unit test' -m msg` and `minisign -S -l -t 'ipm unit test legacy'`. */
#define MS_PUB_FILE "untrusted comment: minisign public key 2982265438E58DE0\n" \
	"RWTgjeU4VCaCKbSm9YUpbLaANKCfFR2PF8vquoVFeV4sPoZQYAQDSDH8\n"
#define MS_PUB "RWTgjeU4VCaCKbSm9YUpbLaANKCfFR2PF8vquoVFeV4sPoZQYAQDSDH8"
#define MS_KEYID "2982265438E58DE0"
#define MS_MSG "the article says -0.41\n"
#define MS_SIG "untrusted comment: signature from minisign secret key\n" \
	"RUTgjeU4VCaCKZG18ekQ+zAZJinl29lKj7cVcpfCOBH/MonxiL5GG+CcOcz62uw1f4IWZSKq79g037p7nkhUVFjsCHhdRjPueQU=\n" \
	"trusted comment: ipm unit test\n" \
	"y2lOmromszDxgEU17Ap2MitrACH29HizeRbF00QyRDzUMbwtMq0b75JIEQDVRdf6ZNuByTDLSp+8vJ/ub6woCw==\n"
#define MS_SIG_LEGACY "untrusted comment: signature from minisign secret key\n" \
	"RWTgjeU4VCaCKfMjESMsK3FOkMvOjFZr/LvxAcyz7waSCEfy0Zs+wbtGw0yWL2U66HXzduyF1+iQ8wIvnisGBxTx23ZljtX6/gs=\n" \
	"trusted comment: ipm unit test legacy\n" \
	"4oBTav4z4LxqxuKtR4jfuPXSpblUIa2B0PAflc1kBpo7P6tn93HbltcjAko3DSWBeR3gj27MZwkPdYt1owdzAw==\n"
/* its secret key, unencrypted (kdf 0,0 and, as minisign -W writes it, a
 * zero checksum) */
#define MS_KEY "untrusted comment: minisign encrypted secret key\n" \
	"RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA4I3lOFQmgimDeHQ9xNU/Zq1C0+28LXa4" \
	"BJGv6u1yNuqJAgS7Hcfm/rSm9YUpbLaANKCfFR2PF8vquoVFeV4sPoZQYAQDSDH8AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"

static char *tmp_root;

static int group_setup(void **state)
{
	tmp_root = xstrdup("/tmp/ipm-test-sign-XXXXXX");
	assert_non_null(mkdtemp(tmp_root));
	return 0;
}

static int group_teardown(void **state)
{
	ipm_rm_rf(tmp_root);
	free(tmp_root);
	return 0;
}

static char *tmp_path(const char *name)
{
	return xasprintf("%s/%s", tmp_root, name);
}

static int verify(const struct ipm_sign_pubkey *pk, const char *data, const char *sig)
{
	return ipm_sign_verify(NULL, pk, data, strlen(data), sig, strlen(sig));
}

/* ---- keys ---- */

static void test_pubkey_forms(void **state)
{
	struct ipm_sign_pubkey a, b;
	char id[17], *b64, *text, *path = tmp_path("k.pub");

	assert_int_equal(ipm_sign_pubkey_parse(&a, MS_PUB), 0);
	ipm_sign_keyid_hex(id, a.keyid);
	assert_string_equal(id, MS_KEYID);   /* as minisign names it */
	b64 = ipm_sign_pubkey_base64(&a);
	assert_string_equal(b64, MS_PUB);
	assert_int_equal(ipm_sign_pubkey_parse(&b, "  " MS_PUB "\r\n"), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(ipm_sign_pubkey_parse(&b, MS_PUB_FILE), 0);
	assert_memory_equal(&a, &b, sizeof(a));

	/* --key takes the key or a .pub file */
	tu_write_file(path, MS_PUB_FILE);
	assert_int_equal(ipm_sign_pubkey_load(&b, path), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(ipm_sign_pubkey_load(&b, MS_PUB), 0);
	assert_int_equal(ipm_sign_pubkey_load(&b, "RWnope"), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "'RWnope' is neither a public key nor a key file"));
	tu_write_file(path, "untrusted comment: x\nnot base64 at all\n");
	assert_int_equal(ipm_sign_pubkey_load(&b, path), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "not a minisign public key"));

	/* a signature line is not a key; nor is a key of another algorithm */
	assert_int_equal(ipm_sign_pubkey_parse(&b, "RUTgjeU4VCaCKZG18ekQ+zAZJinl29lKj7cVcpfCOBH/MonxiL5GG+Cc"), IPM_EINVAL);
	assert_int_equal(ipm_sign_pubkey_parse(&b, ""), IPM_EINVAL);
	assert_int_equal(ipm_sign_pubkey_parse(&b, "untrusted comment: only\n"), IPM_EINVAL);

	text = ipm_sign_pubkey_file_text(&a);
	assert_non_null(strstr(text, "untrusted comment: ipm registry public key " MS_KEYID "\n" MS_PUB "\n"));
	free(text);
	free(b64);
	free(path);
}

static void test_seckey_files(void **state)
{
	struct ipm_sign_seckey sk, loaded;
	struct ipm_sign_pubkey pk, derived;
	char *path = tmp_path("ipm.key"), *text;

	assert_int_equal(ipm_sign_keygen(&sk, &pk), 0);
	ipm_sign_public_of(&derived, &sk);
	assert_memory_equal(&derived, &pk, sizeof(pk));
	text = ipm_sign_seckey_file_text(&sk);
	tu_write_file(path, text);
	assert_int_equal(ipm_sign_seckey_load(&loaded, path), 0);
	assert_memory_equal(&loaded, &sk, sizeof(sk));

	/* a damaged checksum (the last 32 bytes) is found */
	char *line = strchr(text, '\n') + 1;
	line[190] = line[190] == 'A' ? 'B' : 'A';
	tu_write_file(path, text);
	assert_int_equal(ipm_sign_seckey_load(&loaded, path), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "damaged"));

	/* minisign's -W key (zero checksum) is read and signs what its public key verifies */
	tu_write_file(path, MS_KEY);
	assert_int_equal(ipm_sign_seckey_load(&loaded, path), 0);
	assert_int_equal(ipm_sign_pubkey_parse(&pk, MS_PUB), 0);
	ipm_sign_public_of(&derived, &loaded);
	assert_memory_equal(&derived, &pk, sizeof(pk));

	/* a password-protected key: the hint says how to use it */
	char *encrypted = xstrdup(MS_KEY);
	memcpy(strchr(encrypted, '\n') + 1, "RWRTY0Iy", 8);   /* kdf "Sc" */
	tu_write_file(path, encrypted);
	assert_int_equal(ipm_sign_seckey_load(&loaded, path), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "is encrypted with a password"));
	assert_non_null(strstr(ipm_error_hint_text(), "minisign -C -W"));
	tu_write_file(path, MS_PUB_FILE);
	assert_int_equal(ipm_sign_seckey_load(&loaded, path), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "is not a minisign secret key file"));
	free(path);
	path = tmp_path("missing.key");
	assert_int_equal(ipm_sign_seckey_load(&loaded, path), IPM_ENOTFOUND);

	ipm_sign_seckey_clear(&loaded);
	free(encrypted);
	free(text);
	free(path);
}

static void test_keygen_files(void **state)
{
	struct ipm_sign_pubkey pk, from_file;
	struct ipm_sign_seckey sk;
	struct stat st;
	char *dir = tmp_path("keys"), *sk_path = NULL, *pk_path = NULL, *again_sk = NULL, *again_pk = NULL;
	char *before = NULL, *after = NULL;

	assert_int_equal(ipm_sign_keygen_files(&sk_path, &pk_path, &pk, dir), IPM_ENOTFOUND);
	assert_int_equal(ipm_mkdir_p(dir, 0755), 0);
	assert_int_equal(ipm_sign_keygen_files(&sk_path, &pk_path, &pk, dir), 0);
	assert_non_null(strstr(sk_path, "/keys/registry.key"));
	assert_non_null(strstr(pk_path, "/keys/registry.pub"));
	assert_int_equal(stat(sk_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(ipm_sign_pubkey_load(&from_file, pk_path), 0);
	assert_memory_equal(&from_file, &pk, sizeof(pk));
	assert_int_equal(ipm_sign_seckey_load(&sk, sk_path), 0);

	/* never overwrites: not the secret key, not the public one alone */
	assert_int_equal(ipm_file_read(&before, NULL, sk_path), 0);
	assert_int_equal(ipm_sign_keygen_files(&again_sk, &again_pk, &pk, dir), IPM_EEXISTS);
	assert_int_equal(ipm_file_read(&after, NULL, sk_path), 0);
	assert_string_equal(before, after);
	unlink(sk_path);
	assert_int_equal(ipm_sign_keygen_files(&again_sk, &again_pk, &pk, dir), IPM_EEXISTS);
	assert_false(ipm_path_exists(sk_path));
	assert_null(again_sk);

	ipm_sign_seckey_clear(&sk);
	free(before);
	free(after);
	free(sk_path);
	free(pk_path);
	free(dir);
}

/* ---- signatures ---- */

static void test_verify_minisign_vectors(void **state)
{
	struct ipm_sign_pubkey pk;
	char *comment = NULL;

	assert_int_equal(ipm_sign_pubkey_parse(&pk, MS_PUB), 0);
	assert_int_equal(ipm_sign_verify(&comment, &pk, MS_MSG, strlen(MS_MSG), MS_SIG, strlen(MS_SIG)), 0);
	assert_string_equal(comment, "ipm unit test");
	free(comment);
	/* the legacy "Ed" form, a signature of the data itself */
	assert_int_equal(ipm_sign_verify(&comment, &pk, MS_MSG, strlen(MS_MSG), MS_SIG_LEGACY,
					 strlen(MS_SIG_LEGACY)), 0);
	assert_string_equal(comment, "ipm unit test legacy");
	free(comment);
	/* other data */
	assert_int_equal(verify(&pk, "the article says -0.39\n", MS_SIG), IPM_EVERIFY);
	assert_string_equal(ipm_error_message(), "the signature does not match the data");
	assert_int_equal(verify(&pk, "the article says -0.39\n", MS_SIG_LEGACY), IPM_EVERIFY);
}

static void test_sign_and_verify(void **state)
{
	struct ipm_sign_seckey sk, other_sk;
	struct ipm_sign_pubkey pk, other_pk;
	const char *data = "{\"registry\":{},\"packages\":[\n]}\n";
	char *sig = NULL, *comment = NULL, *bad;

	assert_int_equal(ipm_sign_keygen(&sk, &pk), 0);
	assert_int_equal(ipm_sign_keygen(&other_sk, &other_pk), 0);
	assert_int_equal(ipm_sign_data(&sig, &sk, data, strlen(data), NULL, "index.json"), 0);
	assert_true(!strncmp(sig, "untrusted comment: ", 19));
	assert_non_null(strstr(sig, "\ntrusted comment: timestamp:"));
	assert_non_null(strstr(sig, "\tfile:index.json\thashed\n"));
	/* prehashed: the signature line decodes to "ED...", base64 "RU" ("Ed": "RW") */
	assert_non_null(strstr(sig, "\nRU"));
	assert_int_equal(ipm_sign_verify(&comment, &pk, data, strlen(data), sig, strlen(sig)), 0);
	assert_non_null(strstr(comment, "timestamp:"));
	free(comment);

	/* another key */
	assert_int_equal(verify(&other_pk, data, sig), IPM_EVERIFY);
	assert_true(!strncmp(ipm_error_message(), "signed with another key: key id ", 32));
	/* the data changed */
	assert_int_equal(verify(&pk, "{\"registry\":{},\"packages\":[]}\n", sig), IPM_EVERIFY);
	assert_string_equal(ipm_error_message(), "the signature does not match the data");
	/* the trusted comment changed */
	bad = xstrdup(sig);
	*strstr(bad, "timestamp:") = 'T';
	assert_int_equal(verify(&pk, data, bad), IPM_EVERIFY);
	assert_string_equal(ipm_error_message(), "the trusted comment's signature does not verify");
	free(bad);
	/* CRLF line ends are read as minisign reads them */
	struct ipm_buf crlf = IPM_BUF_INIT;
	for (const char *p = sig; *p; p++) {
		if (*p == '\n')
			ipm_buf_addch(&crlf, '\r');
		ipm_buf_addch(&crlf, *p);
	}
	assert_int_equal(verify(&pk, data, crlf.ptr), 0);
	ipm_buf_release(&crlf);

	/* malformed: each line */
	assert_int_equal(verify(&pk, data, ""), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "malformed signature: the first line"));
	assert_int_equal(verify(&pk, data, "untrusted comment: x\nnot base64\n"), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "the second line"));
	bad = xstrdup(sig);
	*strstr(bad, "trusted comment: timestamp") = 'T';   /* the third line's "trusted" */
	assert_int_equal(verify(&pk, data, bad), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "the third line"));
	free(bad);
	bad = xstrdup(sig);
	*strrchr(bad, '\n') = '\0';
	*(strrchr(bad, '\n') + 1) = '\0';   /* no fourth line */
	assert_int_equal(verify(&pk, data, bad), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "the fourth line"));
	free(bad);

	/* a trusted comment is one line */
	assert_int_equal(ipm_sign_data(&bad, &sk, data, strlen(data), "a\nb", NULL), IPM_EINVAL);
	assert_int_equal(ipm_sign_data(&bad, &sk, data, strlen(data), "release 7", NULL), 0);
	assert_int_equal(ipm_sign_verify(&comment, &pk, data, strlen(data), bad, strlen(bad)), 0);
	assert_string_equal(comment, "release 7");
	free(comment);
	free(bad);

	ipm_sign_seckey_clear(&sk);
	ipm_sign_seckey_clear(&other_sk);
	free(sig);
}

/* ---- freshness of an index ---- */

static void test_times(void **state)
{
	int64_t t;
	char out[21];

	assert_int_equal(ipm_registry_time_parse(&t, "2030-01-31T12:34:56Z", 20), 0);
	assert_int_equal(t, 1896093296);
	ipm_registry_time_format(out, t);
	assert_string_equal(out, "2030-01-31T12:34:56Z");
	assert_int_equal(ipm_registry_time_parse(&t, "1970-01-01T00:00:00Z", 20), 0);
	assert_int_equal(t, 0);
	assert_int_equal(ipm_registry_time_parse(&t, "2030-02-30T00:00:00Z", 20), -1);
	assert_int_equal(ipm_registry_time_parse(&t, "2030-01-31 12:34:56Z", 20), -1);
	assert_int_equal(ipm_registry_time_parse(&t, "2030-01-31T12:34:56", 19), -1);
	assert_int_equal(ipm_registry_time_parse(&t, "2030-01-31T25:00:00Z", 20), -1);
	assert_int_equal(ipm_registry_time_parse(&t, "2030-1-31T12:34:56ZZ", 20), -1);
}

static int freshness(int64_t *v, int64_t *e, const char *doc)
{
	return ipm_registry_index_freshness(v, e, doc, strlen(doc), "idx");
}

static void test_index_freshness(void **state)
{
	int64_t v, e;

	assert_int_equal(freshness(&v, &e, "{\"registry\":{\"name\":\"version\"},\"version\":7,"
				     "\"expires\":\"2030-01-31T12:34:56Z\",\"packages\":[{\"version\":\"1\"}]}"), 0);
	assert_int_equal(v, 7);
	assert_int_equal(e, 1896093296);
	/* anywhere at the top level; nested ones are not the index's */
	assert_int_equal(freshness(&v, &e, " { \"packages\" : [ { \"expires\": 3 } ] ,\n \"version\" : 9 } "), 0);
	assert_int_equal(v, 9);
	assert_int_equal(e, 0);
	assert_int_equal(freshness(&v, &e, "{\"registry\":{},\"packages\":[]}"), 0);
	assert_int_equal(v, 0);
	assert_int_equal(e, 0);
	/* not an object: the import says what is wrong */
	assert_int_equal(freshness(&v, &e, "[1,2]"), 0);
	assert_int_equal(freshness(&v, &e, "{\"version\":"), 0);

	assert_int_equal(freshness(&v, &e, "{\"version\":1,\"version\":2}"), IPM_EINVAL);
	assert_string_equal(ipm_error_message(), "'idx': \"version\" is given twice");
	assert_int_equal(freshness(&v, &e, "{\"version\":\"7\"}"), IPM_EINVAL);
	assert_int_equal(freshness(&v, &e, "{\"version\":-7}"), IPM_EINVAL);
	assert_int_equal(freshness(&v, &e, "{\"version\":1.5}"), IPM_EINVAL);
	assert_int_equal(freshness(&v, &e, "{\"version\":0}"), IPM_EINVAL);
	assert_int_equal(freshness(&v, &e, "{\"version\":9007199254740993}"), IPM_EINVAL);
	assert_int_equal(freshness(&v, &e, "{\"version\":9007199254740992}"), 0);
	assert_int_equal(freshness(&v, &e, "{\"expires\":1896093296}"), IPM_EINVAL);
	assert_non_null(strstr(ipm_error_message(), "must be a UTC time"));
	assert_int_equal(freshness(&v, &e, "{\"expires\":\"tomorrow\"}"), IPM_EINVAL);
	assert_int_equal(freshness(&v, &e, "{\"expires\":\"\"}"), IPM_EINVAL);
}

static void test_stamp(void **state)
{
	struct ipm_index ix = { 0 };
	struct ipm_sign_seckey sk;
	struct ipm_sign_pubkey pk;
	char *out = tmp_path("stamped.json"), *sig_path = xasprintf("%s.minisig", out), *sig = NULL;
	const char *base = "{\"registry\":{\"name\":\"t\"},\"packages\":[\n]}\n";
	int64_t now = 2000000000, v, e;
	int kept = -1, written = -1;

	ix.json = xstrdup(base);
	ix.len = strlen(base);
	ix.packages_at = strlen("{\"registry\":{\"name\":\"t\"}");
	assert_int_equal(ipm_publish_stamp(&ix, &kept, out, now, 86400), 0);
	assert_int_equal(kept, 0);
	assert_string_equal(ix.json, "{\"registry\":{\"name\":\"t\"},\"version\":2000000000,"
				     "\"expires\":\"2033-05-19T03:33:20Z\",\"packages\":[\n]}\n");
	assert_int_equal(ipm_registry_index_freshness(&v, &e, ix.json, ix.len, out), 0);
	assert_int_equal(v, now);
	assert_int_equal(e, now + 86400);
	assert_int_equal(ipm_publish_stamp(&ix, &kept, out, now, 86400), IPM_EINVAL);   /* once */
	tu_write_file(out, ix.json);
	assert_int_equal(ipm_sign_keygen(&sk, &pk), 0);
	assert_int_equal(ipm_publish_sign(&written, &ix, out, &sk), 0);
	assert_int_equal(written, 1);
	assert_int_equal(ipm_file_read(&sig, NULL, sig_path), 0);
	assert_int_equal(ipm_sign_verify(NULL, &pk, ix.json, ix.len, sig, strlen(sig)), 0);
	assert_non_null(strstr(sig, "\tfile:stamped.json\thashed\n"));
	free(sig);
	sig = NULL;

	/* the same index an hour later: kept, bytes and signature */
	free(ix.json);
	ix.json = xstrdup(base);
	ix.len = strlen(base);
	ix.version = 0;
	assert_int_equal(ipm_publish_stamp(&ix, &kept, out, now + 3600, 86400), 0);
	assert_int_equal(kept, 1);
	assert_int_equal(ix.version, now);
	assert_int_equal(ipm_publish_sign(&written, &ix, out, &sk), 0);
	assert_int_equal(written, 0);

	/* past half its validity: a new version, even from a clock behind */
	free(ix.json);
	ix.json = xstrdup(base);
	ix.len = strlen(base);
	ix.version = 0;
	assert_int_equal(ipm_publish_stamp(&ix, &kept, out, now + 50000, 86400), 0);
	assert_int_equal(kept, 0);
	assert_int_equal(ix.version, now + 50000);
	tu_write_file(out, ix.json);
	free(ix.json);
	ix.json = xstrdup("{\"registry\":{\"name\":\"u\"},\"packages\":[\n]}\n");
	ix.len = strlen(ix.json);
	ix.version = 0;
	assert_int_equal(ipm_publish_stamp(&ix, &kept, out, now - 100, 86400), 0);
	assert_int_equal(kept, 0);
	assert_int_equal(ix.version, now + 50001);   /* never lower than the last one */

	ipm_sign_seckey_clear(&sk);
	ipm_index_release(&ix);
	free(out);
	free(sig_path);
}

/* ---- plain http ---- */

static void test_transport(void **state)
{
	struct ipm_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(ipm_url_check_transport(&cfg, "https://example.org/i.json", 0), 0);
	assert_int_equal(ipm_url_check_transport(&cfg, "file:///srv/i.json", 0), 0);
	assert_int_equal(ipm_url_check_transport(&cfg, "/srv/repo", 0), 0);
	assert_int_equal(ipm_url_check_transport(&cfg, "git@example.org:o/r.git", 0), 0);
	assert_int_equal(ipm_url_check_transport(&cfg, "ssh://example.org/r.git", 0), 0);
	assert_int_equal(ipm_url_check_transport(&cfg, "http://example.org/i.json", 0), IPM_EINVAL);
	assert_string_equal(ipm_error_message(), "refusing plain http:// URL 'http://example.org/i.json'");
	assert_int_equal(ipm_url_check_transport(&cfg, "HTTP://example.org/i.json", 0), IPM_EINVAL);
	assert_int_equal(ipm_url_check_transport(&cfg, "git://example.org/r.git", 0), IPM_EINVAL);
	assert_int_equal(ipm_url_check_transport(&cfg, "ftp://example.org/a.tgz", 0), IPM_EINVAL);
	assert_int_equal(ipm_url_check_transport(&cfg, "http://example.org/i.json", 1), 0);
	/* the user's own mirror rule: their choice, whatever it maps to */
	assert_int_equal(ipm_mirrors_parse(&cfg.mirrors, &cfg.nmirrors, "http://example.org/=http://10.0.0.1/"), 0);
	assert_int_equal(ipm_url_check_transport(&cfg, "http://example.org/i.json", 0), 0);
	assert_int_equal(ipm_url_check_transport(&cfg, "http://example.com/i.json", 0), IPM_EINVAL);
	free(cfg.mirrors[0].from);
	free(cfg.mirrors[0].to);
	free(cfg.mirrors);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pubkey_forms),
		cmocka_unit_test(test_seckey_files),
		cmocka_unit_test(test_keygen_files),
		cmocka_unit_test(test_verify_minisign_vectors),
		cmocka_unit_test(test_sign_and_verify),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_index_freshness),
		cmocka_unit_test(test_stamp),
		cmocka_unit_test(test_transport),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

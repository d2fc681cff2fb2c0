/*
 * What the Fortanix and Entrust stores put into a header or a URL: printable
 * ASCII without blanks (keystore-agent/kes_http.c), so a login answer
 * whose token holds UTF-8 or control bytes is refused, not sent back.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "keystore-agent/entrust_json.h"
#include "keystore-agent/kes_http.h"
#include "common/xmalloc.h"

Test(kes_http, printable)
{
	cr_expect(kes_http_printable("abc-_.~:/0Z"));
	cr_expect(kes_http_printable(""));
	cr_expect_not(kes_http_printable("a b"));
	cr_expect_not(kes_http_printable("a\tb"));
	cr_expect_not(kes_http_printable("a\x7f"));
	cr_expect_not(kes_http_printable("0\xd0\x9d"));	/* UTF-8 */
	cr_expect_not(kes_http_printable("\xff"));
}

Test(kes_http, entrust_token_not_ascii)
{
	static const char body[] = "{\"access_token\":\"0\xd0\x9d\"}";
	char	 err[256] = "";
	char	*tok = NULL;
	int64_t	 exp;

	cr_assert_eq(en_parse_token(200, "application/json",
	    (const uint8_t *)body, sizeof(body) - 1, &tok, &exp, err,
	    sizeof(err)), -1);
	cr_expect_null(tok);
	cr_expect(strstr(err, "printable") != NULL, "%s", err);
}

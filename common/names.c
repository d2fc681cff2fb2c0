/* Key, policy and identity names and listing patterns as KES checks them. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/names.h"

/*
 * KES walks the string as runes and takes only ASCII, so a byte-wise check
 * is the same: every byte of a multi-byte character is rejected.
 */
static bool
name_char(char c, size_t i, size_t last)
{
	if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z') || c == '_')
		return true;
	return c == '-' && i > 0 && i < last;
}

bool
kes_valid_name(const char *s)
{
	size_t	 i, n;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n == 0 || n > KES_NAME_MAX || strcmp(s, "_") == 0)
		return false;
	for (i = 0; i < n; i++)
		if (!name_char(s[i], i, n - 1))
			return false;
	return true;
}

bool
kes_legacy_name(const char *s)
{
	size_t	 n;

	if (s == NULL)
		return false;
	n = strlen(s);
	return n > 0 && n <= KES_NAME_MAX && strspn(s, "0123456789"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-") == n;
}

/*
 * Any prefix of a name an older KES allowed, with an optional '*' last:
 * KES HEAD refused a prefix ending in '-', which current MinIO sends
 * (ListKeys(ctx, "minio-", n)).
 */
bool
kes_valid_pattern(const char *s)
{
	size_t	 n;

	if (s == NULL)
		return false;
	n = strlen(s);
	/* KES lets "" through: an empty pattern lists everything. */
	if (n == 0 || strcmp(s, "*") == 0)
		return true;
	if (n > KES_NAME_MAX)
		return false;
	if (s[n - 1] == '*')
		n--;
	return strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz_-") == n;
}

bool
kes_is_hex_identity(const char *s)
{
	size_t	 i;

	/* Every request checks one (the admin's): by table. */
	static const bool hex[256] = {
		['0' ... '9'] = true, ['a' ... 'f'] = true,
	};

	if (s == NULL)
		return false;
	for (i = 0; i < KES_IDENTITY_HEXLEN; i++)
		if (!hex[(unsigned char)s[i]])
			return false;
	return s[i] == '\0';
}

unsigned int
kes_name_shard(const char *name, unsigned int n)
{
	uint32_t h = 2166136261u;

	if (n <= 1)
		return 0;
	for (; *name != '\0'; name++) {
		h ^= (uint8_t)*name;
		h *= 16777619u;
	}
	return h % n;
}

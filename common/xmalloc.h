/* Allocation wrappers that die on overflow and out-of-memory. */
#ifndef KEYWARD_XMALLOC_H
#define KEYWARD_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
void	*xmemdup(const void *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Wipe then free; NULL is fine. */
void	 freezero(void *, size_t);
/* Wipe a NUL-terminated string then free it. */
void	 freezero_str(char *);
/* Wipe the whole allocation (as malloc sized it), then free it: for
 * blocks whose size the caller does not know (jansson's). */
void	 free_wiped(void *);

#endif

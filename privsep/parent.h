/* The parent process (privsep/parent.c): `keyward server`. */
#ifndef KEYWARD_PARENT_H
#define KEYWARD_PARENT_H

int	parent_main(int, char **) __attribute__((noreturn));

#endif

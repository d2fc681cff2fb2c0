/* The crypto process (privsep/crypto.c). */
#ifndef KEYWARD_CRYPTO_H
#define KEYWARD_CRYPTO_H

int	crypto_main(int, char **);

#endif

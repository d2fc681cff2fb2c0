/*
 * The settings of KES's key stores that keyward does not serve yet
 * (AWS Secrets Manager): parsed with KES's checks so that a KES
 * configuration is read and checked, then refused at start as not
 * supported. Each moves into its own store file when served.
 */
#ifndef KEYWARD_KS_KES_STORES_H
#define KEYWARD_KS_KES_STORES_H

#include <stddef.h>

struct aws_conf {
	char	*endpoint, *region, *kmskey, *accesskey, *secretkey, *token;
};

#endif

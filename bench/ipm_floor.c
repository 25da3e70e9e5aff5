/*
 * ipm_floor: the floor under ipm's start-up, a program that links SQLite
 * and cJSON (the two libraries every ipm command uses), prints a version
 * line and exits. `ipm --version` is measured against it.
 */
#include <stdio.h>
#include <sqlite3.h>
#include <cJSON.h>

int main(void)
{
	printf("ipm_floor (SQLite %s, cJSON %s)\n", sqlite3_libversion(), cJSON_Version());
	return 0;
}

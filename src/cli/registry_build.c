/* ipm registry build: being written (placeholder for this session's build only) */
#include "cli.h"
#include "ipm/error.h"

int cmd_registry_build(struct cli *cli, int argc, char **argv)
{
	(void)cli; (void)argc; (void)argv;
	return ipm_error_set(IPM_EINVAL, "'registry build' is not written yet");
}

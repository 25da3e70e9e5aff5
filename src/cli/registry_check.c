/* ipm registry check: being written (placeholder for this session's build only) */
#include "cli.h"
#include "ipm/error.h"

int cmd_registry_check(struct cli *cli, int argc, char **argv)
{
	(void)cli; (void)argc; (void)argv;
	return ipm_error_set(IPM_EINVAL, "'registry check' is not written yet");
}

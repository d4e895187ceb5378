#pragma once

void gd_install_process_utility_hook(void);

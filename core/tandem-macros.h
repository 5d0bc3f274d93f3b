/* tandem-macros.h: symbol visibility and include guards for libtandem
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__TANDEM_H_INSIDE__) && !defined(TANDEM_COMPILATION)
#error "Only <tandem.h> can be included directly."
#endif

#include <glib.h>

/* libtandem is built with -fvisibility=hidden: only what is marked here is
 * part of the ABI that plugins, tools and language bindings may use. */
#if defined(_WIN32)
#define _TANDEM_EXPORT __declspec (dllexport)
#elif defined(__GNUC__)
#define _TANDEM_EXPORT __attribute__ ((visibility ("default")))
#else
#define _TANDEM_EXPORT
#endif

/**
 * TANDEM_AVAILABLE_IN_ALL:
 *
 * Marks a public libtandem symbol: exported from the shared library.
 */
#define TANDEM_AVAILABLE_IN_ALL _TANDEM_EXPORT extern

/**
 * TANDEM_PLUGIN_EXPORT:
 *
 * Marks the entry point of a plugin module so that the loader can find it even
 * when the plugin is built with hidden visibility.  Use it through
 * TANDEM_PLUGIN_DEFINE().
 */
#define TANDEM_PLUGIN_EXPORT _TANDEM_EXPORT

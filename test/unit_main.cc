// The Catch2 runner for hoplite's unit tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

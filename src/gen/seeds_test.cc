#include <gtest/gtest.h>
TEST(GenSeeds, Placeholder) {}

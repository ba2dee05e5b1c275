#pragma once
// SDK version. MAJOR: any change to a class layout or vtable in sdk/. MINOR: additions old plugins cannot see.
#define IJEPA_SDK_VERSION_MAJOR 1
#define IJEPA_SDK_VERSION_MINOR 4
#define IJEPA_SDK_VERSION_STRING "1.4"

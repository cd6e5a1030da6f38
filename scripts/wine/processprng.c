/* Test harness only, never shipped: Wine 8 has no ProcessPrng (bcryptprimitives.dll), which
 * Rust's std calls for random bytes on Windows 10 and later (Windows has had it since 8).
 * scripts/wine-test.sh builds this as bcryptprimitives.dll into the Wine prefix (system32); it
 * answers from RtlGenRandom (advapi32's SystemFunction036), which Wine has. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
    if (!SystemFunction036(data, n)) return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}

/* setup.sh smoke test: `smoke` calls ProcessPrng through the normal loader,
 * `smoke crash` writes to NULL (its exit status must be non-zero under Wine). */
#include <windows.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "crash") == 0) {
    *(volatile int *)0 = 1;
    return 0;
  }
  HMODULE m = LoadLibraryA("bcryptprimitives.dll");
  BOOL (WINAPI *p)(PBYTE, SIZE_T) = m ? (void *)GetProcAddress(m, "ProcessPrng") : NULL;
  unsigned char b[16] = {0};
  if (!p || !p(b, sizeof b)) { printf("ProcessPrng MISSING\n"); return 1; }
  printf("   ProcessPrng ok: %02x%02x%02x%02x...\n", b[0], b[1], b[2], b[3]);
  return 0;
}

/*
 * Minimal replacement bcryptprimitives.dll for Wine < 9, which lacks
 * ProcessPrng. Rust std (>= 1.78) imports bcryptprimitives!ProcessPrng on
 * Windows for HashMap keys / random seeds, so any Rust exe fails to load
 * without it ("import ProcessPrng not found").
 *
 * BOOL WINAPI ProcessPrng(PBYTE pbData, SIZE_T cbData);  always returns TRUE.
 * Implemented with advapi32!SystemFunction036 (RtlGenRandom), which Wine has.
 *
 * Build: x86_64-w64-mingw32-gcc -O2 -shared -s -o bcryptprimitives.dll \
 *            processprng.c -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG len); /* RtlGenRandom */

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE; /* real ProcessPrng never fails; Wine's RtlGenRandom doesn't either */
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
    (void)inst; (void)reason; (void)reserved;
    return TRUE;
}

using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Rpc.Transports.Internal;

/// <summary>Whether a descriptor passes to processes this one starts (fcntl FD_CLOEXEC).</summary>
internal static partial class Inheritance
{
    private const int GetFlags = 1; // F_GETFD
    private const int SetFlags = 2; // F_SETFD
    private const int CloseOnExec = 1; // FD_CLOEXEC

    /// <summary>Keeps <paramref name="handle"/> from passing to processes started from now on. No-op on Windows.</summary>
    public static void Stop(SafeHandle handle)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        Use(handle, descriptor =>
        {
            var flags = Fcntl(descriptor, GetFlags, 0);
            if (flags < 0 || Fcntl(descriptor, SetFlags, flags | CloseOnExec) < 0)
            {
                throw new IOException($"fcntl failed: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");
            }

            return 0;
        });
    }

    /// <summary>Whether processes started now would inherit <paramref name="handle"/>.</summary>
    public static bool IsInheritable(SafeHandle handle) =>
        !OperatingSystem.IsWindows() && Use(handle, descriptor => (Fcntl(descriptor, GetFlags, 0) & CloseOnExec) == 0 ? 1 : 0) == 1;

    private static int Use(SafeHandle handle, Func<int, int> action)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return action((int)handle.DangerousGetHandle());
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int descriptor, int command, int argument);
}

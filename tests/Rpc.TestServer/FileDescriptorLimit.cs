using System.Runtime.InteropServices;

namespace Rpc.TestServer;

/// <summary>
/// Lowers this process's open-file limit to what it has open now plus a headroom, so tests can run
/// the server out of file descriptors (EMFILE) with a few connections instead of a million.
/// </summary>
internal static partial class FileDescriptorLimit
{
    private const int RlimitNofile = 7;

    public static void LowerTo(int headroom)
    {
        var open = Directory.GetFiles("/proc/self/fd").Length;
        var limit = new RLimit { Current = (ulong)(open + headroom), Max = (ulong)(open + headroom) };
        if (SetRLimit(RlimitNofile, ref limit) != 0)
        {
            throw new InvalidOperationException($"setrlimit(RLIMIT_NOFILE) failed: errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Max;
    }

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, ref RLimit limit);
}

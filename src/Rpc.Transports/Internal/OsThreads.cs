using System.Globalization;
using System.Runtime.InteropServices;

namespace Rpc.Transports.Internal;

/// <summary>
/// Whether a thread is running (or waiting only for a core) or asleep in the kernel, as Linux's
/// <c>/proc/self/task/&lt;tid&gt;/stat</c> says. The watchdog uses it to tell a handler that blocks
/// (asleep: a lock, an event, synchronous I/O) from one that is being compiled, computes, or lost
/// its core to another thread for a few milliseconds (running).
/// </summary>
internal static partial class OsThreads
{
    /// <summary>The kernel's id of the calling thread; 0 where it is not known (then every thread counts as asleep).</summary>
    public static int CurrentId() => OperatingSystem.IsLinux() ? gettid() : 0;

    /// <summary>True when the thread is running or runnable; false when it sleeps, is gone, or cannot be known.</summary>
    public static bool IsRunning(int threadId)
    {
        if (threadId == 0)
        {
            return false;
        }

        try
        {
            // "tid (name) S ...": the name may hold spaces and parentheses, the state follows the last ')'.
            var stat = File.ReadAllText("/proc/self/task/" + threadId.ToString(CultureInfo.InvariantCulture) + "/stat");
            var end = stat.LastIndexOf(')');
            return end >= 0 && end + 2 < stat.Length && stat[end + 2] == 'R';
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int gettid();
}

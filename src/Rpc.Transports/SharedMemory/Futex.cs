using System.Runtime.InteropServices;

namespace Rpc.Transports.SharedMemory;

/// <summary>
/// Linux futex on a word in shared memory. Not the PRIVATE variants: the waiter and the waker are
/// in different processes, mapping the same page.
/// </summary>
internal static unsafe partial class Futex
{
    private const int FutexWait = 0;
    private const int FutexWake = 1;
    private const int EAgain = 11;
    private const int EIntr = 4;
    private const int ETimedOut = 110;

    private static readonly long SyscallNumber = RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 202,
        Architecture.Arm64 => 98,
        _ => -1,
    };

    /// <summary>Whether futex can be used here: Linux on x64 or Arm64.</summary>
    public static bool IsSupported { get; } = OperatingSystem.IsLinux() && SyscallNumber > 0;

    /// <summary>Sleeps while <c>*word == expected</c>, at most <paramref name="timeout"/>.</summary>
    public static void Wait(int* word, int expected, TimeSpan timeout)
    {
        var spec = new TimeSpec { Seconds = (long)timeout.TotalSeconds, Nanoseconds = (long)(timeout.Ticks % TimeSpan.TicksPerSecond) * 100 };
        var result = Syscall(SyscallNumber, (nint)word, FutexWait, expected, (nint)(&spec), 0, 0);
        if (result < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is not (EAgain or EIntr or ETimedOut))
            {
                throw new IOException($"futex wait failed with errno {errno}.");
            }
        }
    }

    /// <summary>Wakes every process sleeping on <paramref name="word"/>.</summary>
    public static void WakeAll(int* word) => Syscall(SyscallNumber, (nint)word, FutexWake, int.MaxValue, 0, 0, 0);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, nint address, int operation, int value, nint timeout, nint address2, int value3);
}

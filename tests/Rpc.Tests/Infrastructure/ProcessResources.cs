using System.Globalization;

namespace Rpc.Tests.Infrastructure;

/// <summary>What a process holds, read from /proc: the numbers a leak shows up in.</summary>
public readonly record struct ProcessResources(int FileDescriptors, int Threads, long RssBytes, int ShmEntries)
{
    /// <summary>Reads the resources of process <paramref name="pid"/>; shared-memory entries are those named rpc-* in /dev/shm.</summary>
    /// <param name="pid">The process.</param>
    /// <param name="shmPattern">Which /dev/shm names count: narrow it to one server's name when other tests run beside it.</param>
    public static ProcessResources Read(int pid, string shmPattern = "rpc-*") => new(
        Directory.GetFiles($"/proc/{pid}/fd").Length,
        (int)StatusField(pid, "Threads:"),
        StatusField(pid, "VmRSS:") * 1024,
        CountShm(shmPattern));

    /// <summary>The process's resident memory in bytes (VmRSS).</summary>
    public static long Rss(int pid) => StatusField(pid, "VmRSS:") * 1024;

    /// <summary>Entries in /dev/shm matching <paramref name="pattern"/>; rpc-* is the shared-memory transport's prefix.</summary>
    public static int CountShm(string pattern = "rpc-*") => Directory.Exists("/dev/shm") ? Directory.GetFiles("/dev/shm", pattern).Length : 0;

    /// <summary>
    /// Polls until <paramref name="settled"/> holds for the process's resources, up to
    /// <paramref name="timeout"/>; returns the last reading either way so the test can name it.
    /// </summary>
    public static async Task<ProcessResources> WaitUntilAsync(int pid, string shmPattern, Func<ProcessResources, bool> settled, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var now = Read(pid, shmPattern);
            if (settled(now) || DateTime.UtcNow >= deadline)
            {
                return now;
            }

            await Task.Delay(50);
        }
    }

    public override string ToString() =>
        $"fds={FileDescriptors} threads={Threads} rss={RssBytes / (1024 * 1024)} MiB shm={ShmEntries}";

    private static long StatusField(int pid, string field)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith(field, StringComparison.Ordinal))
            {
                var value = line[field.Length..].Trim();
                var space = value.IndexOf(' ', StringComparison.Ordinal);
                return long.Parse(space < 0 ? value : value[..space], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"/proc/{pid}/status has no {field} line.");
    }
}

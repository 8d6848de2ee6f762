using System.Diagnostics;

namespace Rpc.Tests.Transports;

/// <summary>
/// Lists the POSIX message queues that exist on the host, through an mqueue mount: the one the
/// system has (usually /dev/mqueue) or, where none is mounted (a bare container), one this test
/// process mounts once under /tmp and unmounts when it exits. A queue leaked by the transport
/// shows up here whichever process made it.
/// </summary>
public static class MessageQueueEntries
{
    private static readonly Lazy<string> Mount = new(FindOrMount, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The names (without the leading '/') of the transport's queues for <c>mq://<paramref name="name"/></c>.</summary>
    public static string[] Of(string name) =>
        Directory.GetFiles(Mount.Value, $"rpc-mq-{name}-*").Select(Path.GetFileName).OfType<string>().ToArray();

    /// <summary>The file of the queue <paramref name="queueName"/> (with its leading '/') in the mount, for chmod and the like.</summary>
    public static string PathOf(string queueName) => Path.Combine(Mount.Value, queueName.TrimStart('/'));

    /// <summary>Every queue the transport made, for any name.</summary>
    public static string[] All() =>
        Directory.GetFiles(Mount.Value, "rpc-mq-*").Select(Path.GetFileName).OfType<string>().ToArray();

    private static string FindOrMount()
    {
        foreach (var line in File.ReadLines("/proc/self/mounts"))
        {
            var fields = line.Split(' ');
            // Another test run's private mount goes away when that run exits: only a lasting one will do.
            if (fields.Length > 2 && fields[2] == "mqueue" && !fields[1].Contains("rpc-tests-mqueue-", StringComparison.Ordinal) && Directory.Exists(fields[1]))
            {
                return fields[1];
            }
        }

        var path = Path.Combine(Path.GetTempPath(), $"rpc-tests-mqueue-{Environment.ProcessId}");
        Directory.CreateDirectory(path);
        Run("mount", "-t", "mqueue", "mqueue", path);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            Run("umount", path);
            Directory.Delete(path);
        };
        return path;
    }

    private static void Run(string command, params string[] args)
    {
        var info = new ProcessStartInfo(command) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {command}.");
        var error = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromSeconds(10)) || process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"No mqueue file system is mounted, and '{command} {string.Join(' ', args)}' failed ({error.Trim()}); " +
                "mount one (mount -t mqueue mqueue /dev/mqueue) so the tests can see leaked queues.");
        }
    }
}

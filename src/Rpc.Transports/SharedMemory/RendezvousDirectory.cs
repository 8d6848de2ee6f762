using Rpc.Transports.Internal;

namespace Rpc.Transports.SharedMemory;

/// <summary>
/// Where rendezvous sockets live: a directory only this user can enter, so another local user can
/// neither take a server's name while it restarts nor see which names exist. By default
/// <c>$XDG_RUNTIME_DIR/rpc</c> when that is set and ours, else <c>$TMPDIR/rpc-&lt;uid&gt;</c>;
/// created 0700 and checked on every use (ours, a real directory, not a symbolic link).
/// </summary>
internal static class RendezvousDirectory
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>The directory to use, created if needed and checked.</summary>
    /// <exception cref="IOException">It exists but is not safe to use; the message says why.</exception>
    public static string Get(string? configured)
    {
        var ownUserId = LocalPeerPolicy.ServerUserId ?? throw new PlatformNotSupportedException("The shared-memory transport needs Linux.");
        if (configured is not null)
        {
            // A directory the user chose may be shared with a group, but no one else may write there.
            var path = Path.GetFullPath(configured);
            EnsureExists(path);
            Check(path, ownUserId, permissions => (permissions & 0x12) == 0, "writable by no one but its owner (no group or other write bit)");
            return path;
        }

        var runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        var fallback = Path.Combine(Path.GetTempPath(), $"rpc-{ownUserId}");
        var chosen = IsOurs(runtime, ownUserId) ? Path.Combine(runtime!, "rpc") : fallback;
        EnsureExists(chosen);
        Check(chosen, ownUserId, permissions => permissions == 0x1C0, "mode 0700");
        return chosen;
    }

    private static bool IsOurs(string? directory, uint ownUserId)
    {
        if (string.IsNullOrEmpty(directory) || !Path.IsPathRooted(directory))
        {
            return false;
        }

        try
        {
            return FileStatus.OfPath(directory) is { IsDirectory: true } status && status.UserId == ownUserId;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static void EnsureExists(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("The shared-memory transport needs Linux.");
        }

        try
        {
            // Created with the private mode at once (mkdir's mode), so it is never briefly open.
            Directory.CreateDirectory(path, Private);
        }
        catch (IOException ex)
        {
            throw new IOException($"Cannot create the rendezvous directory '{path}': {ex.Message}", ex);
        }
    }

    private static void Check(string path, uint ownUserId, Func<uint, bool> modeIsSafe, string expected)
    {
        if (FileStatus.OfPath(path) is not { IsDirectory: true } status)
        {
            throw new IOException($"The rendezvous directory '{path}' is not a directory (a symbolic link or a file); refusing to use it.");
        }

        if (status.UserId != ownUserId)
        {
            throw new IOException($"The rendezvous directory '{path}' belongs to uid {status.UserId}, not to this user ({ownUserId}); refusing to use it. Remove it, or set RendezvousDirectory.");
        }

        if (!modeIsSafe((uint)status.Mode))
        {
            throw new IOException($"The rendezvous directory '{path}' has mode {Convert.ToString((int)status.Mode, 8)}; it must be {expected}. Refusing to use it.");
        }
    }
}

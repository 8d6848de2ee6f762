using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Rpc.Transports.Internal;

/// <summary>
/// An exclusive claim on a path, held as an advisory lock (flock(2)) on a lock file beside it, so
/// that two servers starting at once cannot both take it: checking for a stale socket, removing it
/// and binding happen under the claim. The kernel drops the lock when the process dies, so a
/// crashed server never blocks the next one; its lock file is simply taken over.
/// </summary>
internal sealed partial class PathLock : IDisposable
{
    private const int Exclusive = 2; // LOCK_EX
    private const int NonBlocking = 4; // LOCK_NB
    private const int Attempts = 3;

    private readonly string _lockPath;
    private readonly SafeFileHandle _handle;
    private readonly FileStatus? _locked;

    private PathLock(string lockPath, SafeFileHandle handle, FileStatus? locked)
    {
        _lockPath = lockPath;
        _handle = handle;
        _locked = locked;
    }

    /// <summary>Takes the claim on <paramref name="lockPath"/> at once, or fails naming <paramref name="address"/>.</summary>
    /// <exception cref="AddressInUseException">Another process holds the claim.</exception>
    public static PathLock Acquire(string lockPath, string address)
    {
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var handle = Open(lockPath, address);
            if (!TryLock(handle))
            {
                handle.Dispose();
                throw InUse(lockPath, address);
            }

            if (!FileStatus.IsSupported)
            {
                return new PathLock(lockPath, handle, locked: null);
            }

            // The previous holder removes the lock file as it lets go; if it did so between our open
            // and our lock, we locked a file nobody else can find, so try again with the new one.
            var locked = FileStatus.OfHandle(handle);
            if (FileStatus.OfPath(lockPath) is { } named && named.IsSameFile(locked) && named.IsRegularFile)
            {
                return new PathLock(lockPath, handle, locked);
            }

            handle.Dispose();
        }

        throw InUse(lockPath, address);
    }

    /// <summary>Removes the lock file if it is still ours, then lets go of the claim.</summary>
    public void Dispose()
    {
        if (_handle.IsClosed)
        {
            return;
        }

        try
        {
            if (_locked is { } locked && FileStatus.OfPath(_lockPath) is { } named && named.IsSameFile(locked))
            {
                // Removed while still locked, so a newcomer either finds our file (and fails to lock
                // it) or creates a fresh one after us.
                File.Delete(_lockPath);
            }
        }
        catch (IOException)
        {
            // Left behind; the next server takes it over.
        }
        finally
        {
            _handle.Dispose();
        }
    }

    private static SafeFileHandle Open(string lockPath, string address)
    {
        try
        {
            // FileShare.None: the runtime then takes the same exclusive flock itself (any other
            // share mode takes a shared one, which would stop our exclusive lock below).
            return File.OpenHandle(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex) when (ex is not (DirectoryNotFoundException or PathTooLongException))
        {
            throw InUse(lockPath, address, ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new UnauthorizedAccessException($"Cannot listen on '{address}': the lock file '{lockPath}' cannot be opened: {ex.Message}", ex);
        }
    }

    private static bool TryLock(SafeFileHandle handle)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return Flock((int)handle.DangerousGetHandle(), Exclusive | NonBlocking) == 0;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    private static AddressInUseException InUse(string lockPath, string address, Exception? inner = null) =>
        new($"Address in use: another server is starting or listening on '{address}' (it holds '{lockPath}').", inner);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(int descriptor, int operation);
}

using System.IO.Pipes;
using System.Runtime.Versioning;
using Rpc.Transports.Internal;
using Rpc.Transports.Sockets;

namespace Rpc.Transports.Pipes;

/// <summary>
/// One listener's hold on a pipe name, and every server instance made for it.
/// </summary>
/// <remarks>
/// <para>
/// On Linux and macOS .NET carries a named pipe on a Unix socket at <c>$TMPDIR/CoreFxPipe_name</c>,
/// shared by all of a process's server instances of that name: bound when the first one is made
/// (after removing whatever is at the path, unless <see cref="PipeOptions.FirstPipeInstance"/> is
/// given) and closed, its path unlinked whoever's file is there by then, when the last one
/// (listening or connected) is disposed. So the claim follows unix://'s discipline: it takes the
/// path's lock file, refuses a live server or a file that is not a socket and removes only a stale
/// socket (<see cref="UnixSocketBinding.RemoveStaleSocketAsync"/>), makes the first instance with
/// <see cref="PipeOptions.FirstPipeInstance"/> (which refuses, rather than removes, anything that
/// appeared meanwhile), and keeps one instance of its own that never accepts, so the socket stays
/// bound once for the listener's whole life. It lets go of the lock only after the last instance
/// is disposed, that is after .NET closed and unlinked the socket, so the next server cannot bind
/// a path this process may still unlink.
/// </para>
/// <para>
/// Threads: the accept loop makes instances; handshakes, connections and the listener dispose
/// them from any thread. They meet at <see cref="_gate"/>, which guards <see cref="_live"/> and
/// <see cref="_closed"/>; the thread that removes the last live instance releases the lock.
/// </para>
/// </remarks>
internal sealed class PipeNameClaim
{
    /// <summary>The socket's mode when <see cref="ListenOptions.FileMode"/> is not set: the owner only, as on unix://.</summary>
    public const UnixFileMode DefaultFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly Lock _gate = new();
    private readonly HashSet<NamedPipeServerStream> _live = new(ReferenceEqualityComparer.Instance);
    private readonly string _name;
    private readonly bool _currentUserOnly;
    private readonly PathLock? _lock;
    private readonly NamedPipeServerStream _keeper;
    private bool _closed;

    private PipeNameClaim(string name, bool currentUserOnly, PathLock? pathLock, NamedPipeServerStream keeper)
    {
        _name = name;
        _currentUserOnly = currentUserOnly;
        _lock = pathLock;
        _keeper = keeper;
        _live.Add(keeper);
    }

    /// <summary>Where .NET puts the socket of pipe <paramref name="name"/> on Linux and macOS.</summary>
    public static string SocketPathOf(string name) => Path.Combine(Path.GetTempPath(), "CoreFxPipe_" + name);

    /// <summary>
    /// Claims <paramref name="name"/> for <paramref name="address"/> (named in every error) and sets
    /// its socket's mode to <paramref name="mode"/>. <paramref name="currentUserOnly"/> makes the
    /// runtime refuse other users itself on every instance.
    /// </summary>
    /// <exception cref="AddressInUseException">A live server, another starting server, or a file that is not a socket holds the name.</exception>
    public static async ValueTask<PipeNameClaim> TakeAsync(string name, TransportAddress address, UnixFileMode mode, bool currentUserOnly, CancellationToken cancellationToken)
    {
        if (OperatingSystem.IsWindows())
        {
            // A real pipe: no file, and FirstPipeInstance makes the system refuse a name in use.
            return new PipeNameClaim(name, currentUserOnly, null, CreateFirst(name, address, path: null, currentUserOnly));
        }

        var path = SocketPathOf(name);
        var pathLock = PathLock.Acquire(path + ".lock", address.ToString());
        NamedPipeServerStream? keeper = null;
        try
        {
            await UnixSocketBinding.RemoveStaleSocketAsync(path, address, cancellationToken).ConfigureAwait(false);
            keeper = CreateFirst(name, address, path, currentUserOnly);
            ApplyMode(path, address, mode);
            return new PipeNameClaim(name, currentUserOnly, pathLock, keeper);
        }
        catch
        {
            keeper?.Dispose();
            pathLock.Dispose();
            throw;
        }
    }

    /// <summary>A new server instance to wait for a client on; it shares the socket the claim keeps bound.</summary>
    /// <exception cref="ObjectDisposedException">The claim was closed: a new instance would bind the path again, outside the lock.</exception>
    public NamedPipeServerStream CreateInstance()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            // The keeper holds the process's shared socket open, so this joins it: nothing is removed or bound.
            var instance = NewStream(_name, _currentUserOnly, PipeOptions.None);
            _live.Add(instance);
            return instance;
        }
    }

    /// <summary>
    /// Disposes <paramref name="instance"/> (again, if it was: an instance disposed while its accept
    /// was pending may have been handed a socket since) and, the first time, gives back its share of
    /// the claim. Never throws.
    /// </summary>
    public void Dispose(NamedPipeServerStream instance)
    {
        // Disposed before its share is given back, so when the count reaches zero .NET has
        // already closed and unlinked the socket.
        instance.Dispose();
        lock (_gate)
        {
            if (_live.Remove(instance) && _live.Count == 0)
            {
                _lock?.Dispose();
            }
        }
    }

    /// <summary>
    /// The listener stops: no new instances, and the claim's own one goes. The socket stays bound
    /// while connections last (.NET closes it with its last instance), and the lock with it. A
    /// pending accept ends by its cancellation token, which .NET 10 passes to the socket's accept.
    /// Never throws.
    /// </summary>
    public void Close()
    {
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
        }

        Dispose(_keeper);
    }

    private static NamedPipeServerStream CreateFirst(string name, TransportAddress address, string? path, bool currentUserOnly)
    {
        try
        {
            return NewStream(name, currentUserOnly, PipeOptions.FirstPipeInstance);
        }
        catch (UnauthorizedAccessException ex)
        {
            // FirstPipeInstance found something at the path after our check: refused, left alone.
            throw new AddressInUseException($"Address in use: '{address}' ('{path ?? name}') was taken while this server was starting; it was left alone.", ex);
        }
        catch (IOException ex)
        {
            throw new AddressInUseException($"Cannot listen on '{address}' ('{path ?? name}'): {ex.Message}", ex);
        }
    }

    private static NamedPipeServerStream NewStream(string name, bool currentUserOnly, PipeOptions extra) =>
        new(name, PipeDirection.InOut, NamedPipeServerStream.MaxAllowedServerInstances, PipeTransmissionMode.Byte,
            PipeOptions.Asynchronous | extra | (currentUserOnly ? PipeOptions.CurrentUserOnly : PipeOptions.None));

    /// <summary>
    /// Sets the mode of the socket .NET just bound (with the process's umask) at <paramref name="path"/>,
    /// after checking that what is there is a socket of this user's.
    /// Clients that connect before the mode is set are still admitted by their credentials alone.
    /// </summary>
    [UnsupportedOSPlatform("windows")]
    private static void ApplyMode(string path, TransportAddress address, UnixFileMode mode)
    {
        if (!FileStatus.IsSupported)
        {
            // No statx here to check it first; the socket was bound a moment ago under our lock.
            File.SetUnixFileMode(path, mode);
            return;
        }

        if (FileStatus.OfPath(path) is not { IsSocket: true } created || created.UserId != LocalPeerPolicy.ServerUserId)
        {
            throw new AddressInUseException($"Cannot listen on '{address}': '{path}' is not the socket this server just bound; it was left alone.");
        }

        File.SetUnixFileMode(path, mode);
        // chmod follows a link: had the path been swapped meanwhile, the mode went elsewhere.
        if (FileStatus.OfPath(path) is not { } now || !SameInode(now, created))
        {
            throw new AddressInUseException($"Cannot listen on '{address}': '{path}' was replaced while its mode was being set.");
        }
    }

    // Device and inode only: chmod changes the status-change time that FileStatus.Created falls
    // back to where the file system keeps no birth time.
    private static bool SameInode(FileStatus a, FileStatus b) => a.Device == b.Device && a.Inode == b.Inode;
}

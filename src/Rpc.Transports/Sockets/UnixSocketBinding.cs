using System.Net.Sockets;
using System.Text;
using Rpc.Transports.Internal;

namespace Rpc.Transports.Sockets;

/// <summary>
/// A listening Unix socket and the claim on its path. Binding takes the path's lock file, then
/// removes only a socket nobody accepts on (never a live one, never any other kind of file), then
/// binds; releasing removes the socket file only if it is still the one bound here, then the lock.
/// </summary>
/// <remarks>Threads: created by the binder; <see cref="Release"/> runs once, after the accept loop ended.</remarks>
internal sealed class UnixSocketBinding
{
    // sockaddr_un's sun_path holds 108 bytes including the terminating zero.
    private const int MaxSocketPathBytes = 107;

    private readonly PathLock _lock;
    private readonly FileStatus? _bound;

    private UnixSocketBinding(Socket socket, string fullPath, PathLock pathLock, FileStatus? bound)
    {
        Socket = socket;
        FullPath = fullPath;
        _lock = pathLock;
        _bound = bound;
    }

    /// <summary>The listening socket.</summary>
    public Socket Socket { get; }

    /// <summary>The socket file's absolute path (a relative address is taken from the working directory at bind time).</summary>
    public string FullPath { get; }

    /// <summary>Binds <paramref name="path"/> for <paramref name="address"/> (named in every error) with <paramref name="mode"/>.</summary>
    /// <exception cref="AddressInUseException">A live server, another starting server, or a file that is not a socket holds the path.</exception>
    /// <exception cref="DirectoryNotFoundException">The socket's directory does not exist.</exception>
    public static async ValueTask<UnixSocketBinding> BindAsync(string path, TransportAddress address, UnixFileMode mode, int backlog, CancellationToken cancellationToken)
    {
        var fullPath = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(fullPath);
        if (directory is not null && !Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"Cannot listen on '{address}': the directory '{directory}' does not exist.");
        }

        var pathLock = PathLock.Acquire(fullPath + ".lock", address.ToString());
        try
        {
            await RemoveStaleSocketAsync(fullPath, address, cancellationToken).ConfigureAwait(false);
            var socket = BindListening(path, fullPath, address, mode, backlog);
            var bound = FileStatus.IsSupported ? FileStatus.OfPath(fullPath) : null;
            return new UnixSocketBinding(socket, fullPath, pathLock, bound);
        }
        catch
        {
            pathLock.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Clears the way for a socket at <paramref name="fullPath"/>: nothing there, or a socket that
    /// refuses connections (a crashed server's), which is removed. Anything else is an error that
    /// names the path and leaves the file alone. The caller holds the path's lock.
    /// </summary>
    internal static async ValueTask RemoveStaleSocketAsync(string fullPath, TransportAddress address, CancellationToken cancellationToken)
    {
        FileStatus? found;
        if (FileStatus.IsSupported)
        {
            found = FileStatus.OfPath(fullPath);
            if (found is null)
            {
                return;
            }

            if (!found.Value.IsSocket)
            {
                throw new AddressInUseException(
                    $"Cannot listen on '{address}': '{fullPath}' exists and is not a socket. It was left alone; remove it or choose another path.");
            }
        }
        else
        {
            if (!File.Exists(fullPath))
            {
                return;
            }

            // Without a way to tell a socket from a user's file, never remove anything.
            throw new AddressInUseException($"Cannot listen on '{address}': '{fullPath}' exists. Remove it if it is a stale socket.");
        }

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await probe.ConnectAsync(new UnixDomainSocketEndPoint(fullPath), cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
        {
            // Nobody accepts there: a crashed server left it behind. Remove it only if it is still
            // the socket we probed, not one a server (not using our lock) bound meanwhile.
            if (FileStatus.OfPath(fullPath) is { } now && now.IsSameFile(found.Value))
            {
                File.Delete(fullPath);
            }

            return;
        }
        catch (SocketException ex)
        {
            throw new AddressInUseException($"Cannot listen on '{address}': the socket '{fullPath}' exists and cannot be probed ({ex.SocketErrorCode}); it was left alone.", ex);
        }

        throw new AddressInUseException($"Address in use: a live server listens on '{address}' ('{fullPath}').");
    }

    /// <summary>Closes the socket, removes its file if it is still ours, and lets go of the path.</summary>
    public void Release()
    {
        Socket.Dispose();
        try
        {
            var current = FileStatus.IsSupported ? FileStatus.OfPath(FullPath) : null;
            if (_bound is { } bound && current is { } now && now.IsSameFile(bound))
            {
                File.Delete(FullPath);
            }
        }
        catch (IOException)
        {
            // Someone else removed or replaced it; either way it is no longer ours.
        }
        finally
        {
            _lock.Dispose();
        }
    }

    /// <summary>
    /// Binds, sets the mode and listens under a temporary name beside the path, then renames the
    /// socket into place. The runtime unlinks the path a socket was bound to when it is disposed,
    /// whoever's file is there by then; bound under the temporary name, the socket leaves the real
    /// path to <see cref="Release"/>, which checks it is still ours. When the temporary name does
    /// not fit in a socket address, the socket is bound at the path itself.
    /// </summary>
    private static Socket BindListening(string path, string fullPath, TransportAddress address, UnixFileMode mode, int backlog)
    {
        var temporary = Path.Combine(Path.GetDirectoryName(fullPath) ?? ".", $".rpc-{Random.Shared.Next():x8}");
        var bindPath = Encoding.UTF8.GetByteCount(temporary) <= MaxSocketPathBytes ? temporary : ShortestPath(path, fullPath);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(bindPath));
            // Before listen(), nobody can connect, so narrowing the mode here leaves no window.
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(bindPath, mode);
            }

            socket.Listen(backlog);
            if (bindPath == temporary)
            {
                // rename(2): atomic, and the path was checked free (or stale) under our lock.
                File.Move(temporary, fullPath, overwrite: true);
            }

            return socket;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw new AddressInUseException($"Address in use: '{address}' ('{fullPath}').", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The absolute path when it fits in a socket address, else the path as given.</summary>
    private static string ShortestPath(string path, string fullPath) =>
        Encoding.UTF8.GetByteCount(fullPath) <= MaxSocketPathBytes ? fullPath : path;
}

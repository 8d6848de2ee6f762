using System.Net.Sockets;
using Rpc.Transports.Internal;

namespace Rpc.Transports.Sockets;

/// <summary>
/// Unix domain sockets: <c>unix:///absolute/path</c> or <c>unix:relative/path</c>.
/// The listener owns its socket file: it replaces a stale socket left by a crashed server, refuses
/// a live one and any file that is not a socket, claims the path with a lock file beside it
/// (<c>path.lock</c>) so two servers cannot both take it, and removes its own socket when unbound.
/// Only the peers <see cref="ListenOptions"/> allow are accepted (by default the server's own user).
/// </summary>
public sealed class UnixSocketTransport : ITransport
{
    private readonly UnixSocketTransportOptions _options;

    /// <summary>Creates the transport with <paramref name="options"/>.</summary>
    public UnixSocketTransport(UnixSocketTransportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    /// <inheritdoc/>
    public IReadOnlyCollection<string> Schemes { get; } = ["unix"];

    /// <inheritdoc/>
    public void Validate(TransportAddress address) => GetPath(address);

    /// <inheritdoc/>
    public async ValueTask<ITransportListener> BindAsync(TransportAddress address, ListenOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var path = GetPath(address);
        var binding = await UnixSocketBinding.BindAsync(path, address, options.FileMode ?? _options.SocketFileMode, _options.Backlog, cancellationToken).ConfigureAwait(false);
        return new UnixSocketListener(binding, address, options, _options.MaxBufferSize, _options.MappedPayloadThreshold, _options.SpinDuration);
    }

    /// <inheritdoc/>
    public async ValueTask<ITransportConnection> ConnectAsync(TransportAddress address, CancellationToken cancellationToken)
    {
        var socket = await ConnectSocketAsync(GetPath(address), address, cancellationToken).ConfigureAwait(false);
        var identity = PeerCredentials.Read(socket);
        return new UnixSocketConnection(socket, address.ToString(), _options.MaxBufferSize, identity, _options.MappedPayloadThreshold, _options.SpinDuration);
    }

    /// <summary>A socket connected to <paramref name="path"/>; failures become <see cref="ConnectionFailedException"/> naming the real path and why.</summary>
    internal static async ValueTask<Socket> ConnectSocketAsync(string path, TransportAddress address, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new ConnectionFailedException($"Could not connect to '{address}': {Explain(ex.SocketErrorCode, Path.GetFullPath(path))}", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Why a connect to <paramref name="fullPath"/> failed, in words a user can act on.</summary>
    internal static string Explain(SocketError error, string fullPath) => error switch
    {
        // ENOENT reaches us as AddressNotAvailable, which says nothing to a user.
        SocketError.AddressNotAvailable when !File.Exists(fullPath) && !Directory.Exists(Path.GetDirectoryName(fullPath))
            => $"no such file or directory: the directory '{Path.GetDirectoryName(fullPath)}' does not exist.",
        SocketError.AddressNotAvailable => $"no such file '{fullPath}': is the server running and listening there?",
        SocketError.ConnectionRefused => $"nothing accepts connections at '{fullPath}' (a server that stopped without removing it, or not a socket).",
        SocketError.AccessDenied => $"permission denied on '{fullPath}': its mode or its directory's does not let this user in.",
        _ => $"{error} on '{fullPath}'.",
    };

    /// <summary>The path of a unix address; a host part (<c>unix://tmp/x.sock</c>) is refused, as gRPC does.</summary>
    internal static string GetPath(TransportAddress address)
    {
        if (address.Scheme != "unix" || address.Target.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{address}' is not a unix address. {TransportRegistry.AcceptedForms}", nameof(address));
        }

        if (address.HasAuthority && !address.Target.StartsWith('/'))
        {
            var host = address.Target.Split('/')[0];
            throw new ArgumentException(
                $"'{address.Original}' names a host ('{host}'), which a unix address cannot have. " +
                $"Use 'unix:///{address.Target}' for the absolute path /{address.Target}, or 'unix:{address.Target}' for a path relative to the working directory.",
                nameof(address));
        }

        return address.Target;
    }
}

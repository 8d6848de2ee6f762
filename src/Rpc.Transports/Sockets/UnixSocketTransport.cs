using System.Net.Sockets;

namespace Rpc.Transports.Sockets;

/// <summary>
/// Unix domain sockets: <c>unix:///absolute/path</c> or <c>unix:relative/path</c>.
/// The listener owns its socket file: it replaces a stale one left by a crashed server, refuses a
/// live one, and removes its own when unbound.
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
        var path = GetPath(address);
        var socket = await BindSocketAsync(path, _options.SocketFileMode, _options.Backlog, cancellationToken).ConfigureAwait(false);
        return new UnixSocketListener(socket, address, path, options, _options.MaxBufferSize);
    }

    /// <inheritdoc/>
    public async ValueTask<ITransportConnection> ConnectAsync(TransportAddress address, CancellationToken cancellationToken)
    {
        var socket = await ConnectSocketAsync(GetPath(address), address, cancellationToken).ConfigureAwait(false);
        return new SocketConnection(socket, address.ToString(), _options.MaxBufferSize);
    }

    /// <summary>A listening socket at <paramref name="path"/>, replacing a stale socket file but never a live one.</summary>
    internal static async ValueTask<Socket> BindSocketAsync(string path, UnixFileMode mode, int backlog, CancellationToken cancellationToken)
    {
        await RemoveStaleSocketFileAsync(path, cancellationToken).ConfigureAwait(false);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            // Before listen(), nobody can connect, so narrowing the mode here leaves no window.
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, mode);
            }

            socket.Listen(backlog);
            return socket;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw new AddressInUseException($"Address in use: 'unix://{path}'.", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A socket connected to <paramref name="path"/>; failures become <see cref="ConnectionFailedException"/>.</summary>
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
            throw new ConnectionFailedException($"Could not connect to '{address}': {ex.SocketErrorCode}.", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static string GetPath(TransportAddress address)
    {
        if (address.Scheme != "unix" || address.Target.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{address}' is not a unix address. {TransportRegistry.AcceptedForms}", nameof(address));
        }

        return address.Target;
    }

    private static async ValueTask RemoveStaleSocketFileAsync(string path, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            return;
        }

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await probe.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
        {
            // Nobody accepts there: a crashed server left the file behind.
            File.Delete(path);
            return;
        }

        throw new AddressInUseException($"Address in use: a live server listens on 'unix://{path}'.");
    }
}

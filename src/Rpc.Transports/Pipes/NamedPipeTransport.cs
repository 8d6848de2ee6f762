using System.IO.Pipes;
using Rpc.Transports.Internal;

namespace Rpc.Transports.Pipes;

/// <summary>
/// Named pipes: <c>pipe://name</c> or <c>pipe://./name</c>. On Windows a real pipe; on Linux and
/// macOS .NET carries it on a Unix socket, claimed as unix:// claims its path (see
/// <see cref="PipeNameClaim"/>). Only the current user may connect unless the listen options allow more.
/// </summary>
public sealed class NamedPipeTransport : ITransport
{
    private const int MaxBufferSize = 1024 * 1024;

    /// <inheritdoc/>
    public IReadOnlyCollection<string> Schemes { get; } = ["pipe"];

    /// <inheritdoc/>
    public void Validate(TransportAddress address) => GetPipeName(address);

    /// <inheritdoc/>
    public async ValueTask<ITransportListener> BindAsync(TransportAddress address, ListenOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var name = GetPipeName(address);
        // The runtime's own current-user check refuses everyone else before we can see them; keep
        // it while only our user may connect, and let the listen options decide otherwise.
        var currentUserOnly = LocalPeerPolicy.OwnUserOnly(options);
        // Claim the name now, so "in use" is reported by Listen rather than by the first accept.
        var claim = await PipeNameClaim.TakeAsync(name, address, options.FileMode ?? PipeNameClaim.DefaultFileMode, currentUserOnly, cancellationToken).ConfigureAwait(false);
        try
        {
            return new NamedPipeListener(claim, name, address, options);
        }
        catch
        {
            claim.Close();
            throw;
        }
    }

    /// <inheritdoc/>
    public async ValueTask<ITransportConnection> ConnectAsync(TransportAddress address, CancellationToken cancellationToken)
    {
        var name = GetPipeName(address);
        var client = new NamedPipeClientStream(".", name, PipeDirection.InOut, PipeOptions.Asynchronous | PipeOptions.CurrentUserOnly);
        try
        {
            await client.ConnectAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or TimeoutException or UnauthorizedAccessException)
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw new ConnectionFailedException($"Could not connect to '{address}': {ex.Message}", ex);
        }

        return new StreamConnection(client, client, address.ToString(), MaxBufferSize, identity: NamedPipeListener.ReadIdentity(client));
    }

    internal static string GetPipeName(TransportAddress address)
    {
        var name = address.Target.StartsWith("./", StringComparison.Ordinal) ? address.Target[2..] : address.Target;
        if (address.Scheme != "pipe" || name.Length == 0 || name.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{address}' is not a pipe address. {TransportRegistry.AcceptedForms}", nameof(address));
        }

        return name;
    }

    internal static int BufferSize => MaxBufferSize;
}

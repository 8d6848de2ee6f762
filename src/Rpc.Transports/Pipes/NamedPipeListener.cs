using System.IO.Pipes;
using Rpc.Transports.Internal;

namespace Rpc.Transports.Pipes;

/// <summary>Keeps one server instance of the pipe waiting; each client that connects gets it and a new one waits.</summary>
internal sealed class NamedPipeListener : ITransportListener
{
    private readonly string _name;
    private readonly CancellationTokenSource _unbound = new();
    private NamedPipeServerStream? _waiting;

    public NamedPipeListener(string name, TransportAddress address, NamedPipeServerStream first)
    {
        _name = name;
        _waiting = first;
        Address = address;
    }

    public TransportAddress Address { get; }

    public static NamedPipeServerStream CreateServerStream(string name)
    {
        try
        {
            return new NamedPipeServerStream(name, PipeDirection.InOut, NamedPipeServerStream.MaxAllowedServerInstances,
                PipeTransmissionMode.Byte, PipeOptions.Asynchronous | PipeOptions.CurrentUserOnly);
        }
        catch (IOException ex)
        {
            throw new AddressInUseException($"Address in use: 'pipe://{name}': {ex.Message}", ex);
        }
    }

    public async ValueTask<ITransportConnection?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _unbound.Token);
        while (!_unbound.IsCancellationRequested)
        {
            var server = _waiting ??= CreateServerStream(_name);
            try
            {
                await server.WaitForConnectionAsync(linked.Token).ConfigureAwait(false);
                _waiting = null;
                return new StreamConnection(server, server, "pipe:" + _name, NamedPipeTransport.BufferSize);
            }
            catch (Exception ex) when (_unbound.IsCancellationRequested && ex is OperationCanceledException or ObjectDisposedException or IOException)
            {
                break;
            }
            catch (IOException)
            {
                // A client that gave up mid-connect breaks this instance; wait on a fresh one.
                _waiting = null;
                await server.DisposeAsync().ConfigureAwait(false);
            }
        }

        return null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_unbound.IsCancellationRequested)
        {
            return;
        }

        await _unbound.CancelAsync().ConfigureAwait(false);
        if (Interlocked.Exchange(ref _waiting, null) is { } waiting)
        {
            await waiting.DisposeAsync().ConfigureAwait(false);
        }
    }
}

using System.Net.Sockets;
using Rpc.Tests.Infrastructure;

namespace Rpc.Tests.Client;

/// <summary>A Unix socket that accepts connections and never says a word: a peer stuck before its handshake.</summary>
internal sealed class SilentListener : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly List<Socket> _accepted = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;

    public SilentListener()
    {
        Path = TestPaths.NewSocketPath();
        _listener.Bind(new UnixDomainSocketEndPoint(Path));
        _listener.Listen();
        _acceptLoop = AcceptAsync();
    }

    public string Path { get; }

    public string Address => "unix://" + Path;

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptAsync(_stop.Token);
                lock (_accepted)
                {
                    _accepted.Add(socket);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Disposed.
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        _acceptLoop.Wait(Rpc.Tests.Infrastructure.TaskExtensions.DefaultTimeoutSpan);
        lock (_accepted)
        {
            foreach (var socket in _accepted)
            {
                socket.Dispose();
            }
        }

        File.Delete(Path);
        _stop.Dispose();
    }
}

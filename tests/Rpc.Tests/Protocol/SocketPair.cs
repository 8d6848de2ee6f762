using System.Net.Sockets;
using Rpc.Tests.Infrastructure;

namespace Rpc.Tests.Protocol;

/// <summary>Two connected Unix sockets; the socket file is removed at once.</summary>
internal sealed class SocketPair : IDisposable
{
    private SocketPair(Socket ours, Socket theirs)
    {
        Ours = ours;
        Theirs = theirs;
    }

    public Socket Ours { get; }

    public Socket Theirs { get; }

    public static async Task<SocketPair> CreateAsync()
    {
        var path = TestPaths.NewSocketPath();
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        try
        {
            listener.Listen(1);
            var ours = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await ours.ConnectAsync(new UnixDomainSocketEndPoint(path)).DefaultTimeout();
            var theirs = await listener.AcceptAsync().DefaultTimeout();
            return new SocketPair(ours, theirs);
        }
        finally
        {
            File.Delete(path);
        }
    }

    public void Dispose()
    {
        Ours.Dispose();
        Theirs.Dispose();
    }
}

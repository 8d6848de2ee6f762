using System.Net.Sockets;
using Rpc.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.TestServer;
using Rpc.Transports;
using Rpc.Transports.Pipes;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>
/// A pipe:// server on Linux takes its name as unix:// takes a path: never from a live server,
/// never over a user's file, only in place of a stale socket; with the socket mode it was asked for.
/// </summary>
public sealed class NamedPipeTakeoverTests
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact]
    public async Task StartAsync_NameServedByLiveServerProcess_FailsAddressInUseAndFirstStillServes()
    {
        var (address, path) = NewName();
        var first = await ServerProcess.StartAsync(address);
        try
        {
            await using var second = new RpcServer().AddService(new ConformanceService()).Listen(address);
            var ex = await Assert.ThrowsAsync<AddressInUseException>(() => second.StartAsync()).DefaultTimeout();
            Assert.Contains(address, ex.Message, StringComparison.Ordinal);
            Assert.Contains(path, ex.Message, StringComparison.Ordinal);

            await AssertServesAsync(address);
        }
        finally
        {
            await first.DisposeAsync();
            RemoveLeftovers(path);
        }
    }

    [Fact]
    public async Task BindAsync_LiveSocketWithoutLock_FailsNamingPipeAndPathAndLeavesItServing()
    {
        // A live server that does not take the lock (an older version, another program).
        var (address, path) = NewName();
        using var live = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        live.Bind(new UnixDomainSocketEndPoint(path));
        live.Listen();
        try
        {
            var ex = await Assert.ThrowsAsync<AddressInUseException>(() => BindAsync(address)).DefaultTimeout();
            Assert.Contains("live server", ex.Message, StringComparison.Ordinal);
            Assert.Contains(address, ex.Message, StringComparison.Ordinal);
            Assert.Contains(path, ex.Message, StringComparison.Ordinal);

            using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await client.ConnectAsync(new UnixDomainSocketEndPoint(path)).DefaultTimeout();
            Assert.False(File.Exists(path + ".lock"), "A refused bind must give its lock file back.");
        }
        finally
        {
            RemoveLeftovers(path);
        }
    }

    [Fact]
    public async Task StartAsync_StaleSocketOfKilledServer_IsReplacedAndServes()
    {
        var (address, path) = NewName();
        var killed = await ServerProcess.StartAsync(address);
        await killed.Process.KillAsync();
        await killed.DisposeAsync();
        Assert.True(File.Exists(path), "A killed server should leave its socket behind for this test to mean anything.");
        try
        {
            await using var server = new RpcServer().AddService(new ConformanceService()).Listen(address);
            await server.StartAsync().DefaultTimeout();

            await AssertServesAsync(address);
        }
        finally
        {
            RemoveLeftovers(path);
        }
    }

    [Fact]
    public async Task BindAsync_RegularFileAtPipePath_FailsNamingItAndLeavesItIntact()
    {
        var (address, path) = NewName();
        await File.WriteAllTextAsync(path, "a user's notes");
        try
        {
            var ex = await Assert.ThrowsAsync<AddressInUseException>(() => BindAsync(address)).DefaultTimeout();
            Assert.Contains(path, ex.Message, StringComparison.Ordinal);
            Assert.Contains("not a socket", ex.Message, StringComparison.Ordinal);
            Assert.Equal("a user's notes", await File.ReadAllTextAsync(path));
            Assert.False(File.Exists(path + ".lock"), "A refused bind must give its lock file back.");
        }
        finally
        {
            RemoveLeftovers(path);
        }
    }

    [Fact]
    public async Task BindAsync_SecondListenerInSameProcess_FailsAddressInUseAndFirstStillAccepts()
    {
        var (address, path) = NewName();
        var first = await BindAsync(address);
        try
        {
            var ex = await Assert.ThrowsAsync<AddressInUseException>(() => BindAsync(address)).DefaultTimeout();
            Assert.Contains(address, ex.Message, StringComparison.Ordinal);

            await AssertAcceptsAsync(first);
        }
        finally
        {
            await first.DisposeAsync();
            RemoveLeftovers(path);
        }
    }

    [Fact]
    public async Task BindAsync_TwoServersAtOnceOnStaleSocket_ExactlyOneListens()
    {
        for (var trial = 0; trial < 10; trial++)
        {
            var (address, path) = NewName();
            LeaveStaleSocket(path);
            using var start = new Barrier(2);
            var binds = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
            {
                start.SignalAndWait(Infrastructure.TaskExtensions.DefaultTimeoutSpan);
                try
                {
                    return await BindAsync(address);
                }
                catch (AddressInUseException)
                {
                    return null;
                }
            })).ToArray();

            var listeners = (await Task.WhenAll(binds).DefaultTimeout()).OfType<ITransportListener>().ToArray();
            try
            {
                var winner = Assert.Single(listeners);
                await AssertAcceptsAsync(winner);
            }
            finally
            {
                foreach (var listener in listeners)
                {
                    await listener.DisposeAsync().DefaultTimeout();
                }

                RemoveLeftovers(path);
            }
        }
    }

    [Fact]
    public async Task BindAsync_DefaultFileMode_SocketIsOwnerOnly()
    {
        var (address, path) = NewName();
        await using var listener = await BindAsync(address);
        try
        {
            Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));
        }
        finally
        {
            await listener.DisposeAsync();
            RemoveLeftovers(path);
        }
    }

    [Fact]
    public async Task BindAsync_FileModeSet_SocketHasThatModeAndStillAccepts()
    {
        var (address, path) = NewName();
        const UnixFileMode ownerAndGroup = OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;
        await using var listener = await BindAsync(address, new ListenOptions { FileMode = ownerAndGroup });
        try
        {
            Assert.Equal(ownerAndGroup, File.GetUnixFileMode(path));
            await AssertAcceptsAsync(listener);
        }
        finally
        {
            await listener.DisposeAsync();
            RemoveLeftovers(path);
        }
    }

    [Fact]
    public async Task ShutdownAsync_AfterCalls_RemovesSocketAndLockFileAndNameCanBeServedAgain()
    {
        var (address, path) = NewName();
        var server = new RpcServer().AddService(new ConformanceService()).Listen(address);
        await using (server)
        {
            await server.StartAsync().DefaultTimeout();
            Assert.True(File.Exists(path + ".lock"), "A listening server holds the name's lock file.");
            // A channel still connected while the server shuts down keeps .NET's socket open until
            // the server closes the connection; the name must still come free.
            var channel = RpcChannel.ForAddress(address);
            try
            {
                await new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest { ResponseSize = 1 }).ResponseAsync.DefaultTimeout();
                await server.ShutdownAsync().DefaultTimeout();
            }
            finally
            {
                await channel.DisposeWithinAsync();
            }
        }

        try
        {
            Assert.False(File.Exists(path), $"The server left {path} behind.");
            Assert.False(File.Exists(path + ".lock"), $"The server left {path}.lock behind.");

            await using var next = new RpcServer().AddService(new ConformanceService()).Listen(address);
            await next.StartAsync().DefaultTimeout();
            await AssertServesAsync(address);
        }
        finally
        {
            RemoveLeftovers(path);
        }
    }

    [Fact]
    public async Task DisposeAsync_ListenerWithOpenConnection_NameHeldUntilConnectionCloses()
    {
        var (address, path) = NewName();
        var listener = await BindAsync(address);
        try
        {
            var transport = new NamedPipeTransport();
            var accept = listener.AcceptAsync().AsTask();
            var client = await transport.ConnectAsync(TransportAddress.Parse(address), CancellationToken.None).DefaultTimeout();
            await using (client)
            {
                var accepted = await accept.DefaultTimeout();
                Assert.NotNull(accepted);
                await using (accepted)
                {
                    await listener.DisposeAsync().DefaultTimeout();

                    // .NET keeps the socket bound while one of its connections lasts, and would
                    // unlink the path when that one closes: another server must not bind it meanwhile.
                    await Assert.ThrowsAsync<AddressInUseException>(() => BindAsync(address)).DefaultTimeout();
                }
            }

            Assert.False(File.Exists(path), $"The last connection's close left {path} behind.");
            Assert.False(File.Exists(path + ".lock"), $"The last connection's close left {path}.lock behind.");
            await using var next = await BindAsync(address);
            await AssertAcceptsAsync(next);
        }
        finally
        {
            await listener.DisposeAsync();
            RemoveLeftovers(path);
        }
    }

    private static (string Address, string Path) NewName()
    {
        var name = $"rpct-{Guid.NewGuid():N}";
        return ("pipe://" + name, PipeNameClaim.SocketPathOf(name));
    }

    private static Task<ITransportListener> BindAsync(string address, ListenOptions? options = null) =>
        new NamedPipeTransport().BindAsync(TransportAddress.Parse(address), options ?? new ListenOptions(), CancellationToken.None).AsTask();

    private static async Task AssertServesAsync(string address)
    {
        var channel = RpcChannel.ForAddress(address);
        try
        {
            var reply = await new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest { ResponseSize = 7 }).ResponseAsync.DefaultTimeout();
            Assert.Equal(7, reply.Payload.Body.Length);
        }
        finally
        {
            await channel.DisposeWithinAsync();
        }
    }

    private static async Task AssertAcceptsAsync(ITransportListener listener)
    {
        var accept = listener.AcceptAsync().AsTask();
        await using var client = await new NamedPipeTransport().ConnectAsync(listener.Address, CancellationToken.None).DefaultTimeout();
        await using var accepted = await accept.DefaultTimeout();
        Assert.NotNull(accepted);
    }

    /// <summary>A socket file nobody listens on, as a crashed server leaves behind.</summary>
    private static void LeaveStaleSocket(string path)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        // Moved aside while the socket closes, so that whatever the runtime removes on dispose, the file stays.
        File.Move(path, path + ".keep");
        socket.Dispose();
        File.Move(path + ".keep", path);
        Assert.True(File.Exists(path));
    }

    private static void RemoveLeftovers(string path)
    {
        File.Delete(path);
        File.Delete(path + ".lock");
    }
}

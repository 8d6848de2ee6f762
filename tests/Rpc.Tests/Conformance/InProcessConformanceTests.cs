using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Rpc.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.TestServer;
using Xunit;

namespace Rpc.Tests.Conformance;

/// <summary>
/// The conformance suite over <c>inproc://</c>: client and server in this process, so the server
/// is hosted here as Rpc.TestServer would host it, and "killing" a peer tears its side down at once.
/// </summary>
public sealed class InProcessConformanceTests : ConformanceTests
{
    protected override string NewAddress() => $"inproc://rpct-{Guid.NewGuid():N}";

    protected override async Task<IConformanceServer> StartServerAsync(string address) => await InProcessConformanceServer.StartAsync(address);

    /// <summary>A second channel stands for the client process: once the server is in the handler its connection is torn down without a word, as a killed process's would be.</summary>
    protected override async Task KillClientDuringSleepAsync(string key)
    {
        await using var channel = RpcChannel.ForAddress(Server.Address);
        using var call = new TestService.TestServiceClient(channel).SleepAsync(new SleepRequest { Key = key, Millis = 60_000 });
        await call.ResponseHeadersAsync.DefaultTimeout();
        Assert.True(channel.Connections.TryGetCurrent(out var connection), "The call's connection is gone already.");
        connection.Abort(new IOException("The client process was killed."));
    }

    protected override void AssertReleased(string address, bool graceful)
    {
        // Nothing on disk: what a server must let go of is its name, which a new server can take at once.
        var next = new RpcServer().Listen(address);
        next.StartAsync().DefaultTimeout().GetAwaiter().GetResult();
        next.DisposeAsync().AsTask().DefaultTimeout().GetAwaiter().GetResult();
    }
}

/// <summary>The test server the conformance suite talks to, wherever it runs.</summary>
public interface IConformanceServer : IAsyncDisposable
{
    /// <summary>The address it serves (the bound one when the requested port was 0).</summary>
    string Address { get; }

    /// <summary>Whether it was killed rather than stopped, so it may have left things behind.</summary>
    bool WasKilled { get; }

    /// <summary>What it reported (a process's output): "STOPPED" once a graceful stop finished.</summary>
    string Transcript { get; }

    /// <summary>Ends it at once: no graceful shutdown.</summary>
    Task KillAsync();

    /// <summary>Stops it gracefully and waits until it has stopped.</summary>
    Task TerminateAsync();
}

/// <summary>Rpc.TestServer as its own process (<see cref="ServerProcess"/>).</summary>
internal sealed class ProcessConformanceServer(ServerProcess server) : IConformanceServer
{
    public string Address => server.Address;

    public bool WasKilled => server.Process.WasKilled;

    public string Transcript => server.Process.Transcript;

    public Task KillAsync() => server.Process.KillAsync();

    public Task TerminateAsync() => server.Process.TerminateAsync();

    public ValueTask DisposeAsync() => server.DisposeAsync();
}

/// <summary>
/// The conformance service hosted in this process as Rpc.TestServer hosts it (its shutdown
/// timeout, its trailer-stamping interceptor), for transports that cannot leave the process.
/// </summary>
internal sealed class InProcessConformanceServer : IConformanceServer
{
    private readonly RpcServer _server;
    private readonly ConcurrentQueue<string> _transcript = new();
    private int _ended;

    private InProcessConformanceServer(RpcServer server, string address)
    {
        _server = server;
        Address = address;
    }

    public string Address { get; }

    public bool WasKilled { get; private set; }

    public string Transcript => string.Join(Environment.NewLine, _transcript);

    public static async Task<InProcessConformanceServer> StartAsync(string address)
    {
        var options = new RpcServerOptions { ShutdownTimeout = TimeSpan.FromSeconds(3) };
        options.Interceptors.Add(new TrailerStampingInterceptor());
        var server = new RpcServer(options);
        server.AddService(new ConformanceService()).Listen(address);
        try
        {
            await server.StartAsync().DefaultTimeout();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        var host = new InProcessConformanceServer(server, server.BoundAddresses[0]);
        host._transcript.Enqueue("READY " + host.Address);
        return host;
    }

    public async Task KillAsync()
    {
        if (Interlocked.Exchange(ref _ended, 1) == 1)
        {
            return;
        }

        WasKilled = true;
        // An already-fired token skips every grace period: calls are cancelled and connections closed at once.
        using var now = new CancellationTokenSource();
        await now.CancelAsync();
        await _server.ShutdownAsync(now.Token).DefaultTimeout();
    }

    public async Task TerminateAsync()
    {
        if (Interlocked.Exchange(ref _ended, 1) == 1)
        {
            return;
        }

        await _server.ShutdownAsync().DefaultTimeout();
        _transcript.Enqueue("STOPPED");
    }

    public async ValueTask DisposeAsync()
    {
        await TerminateAsync();
        await _server.DisposeAsync().AsTask().DefaultTimeout();
    }

    /// <summary>As Rpc.TestServer's: stamps a trailer on every unary call, proving server interceptors run.</summary>
    private sealed class TrailerStampingInterceptor : Interceptor
    {
        public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
        {
            context.ResponseTrailers.Add("x-intercepted", "yes");
            return await continuation(request, context);
        }
    }
}

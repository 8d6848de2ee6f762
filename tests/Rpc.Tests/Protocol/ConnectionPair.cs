using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;

namespace Rpc.Tests.Protocol;

/// <summary>A client and a server connection over an in-memory byte stream, started; disposing ends both.</summary>
internal sealed class ConnectionPair : IAsyncDisposable
{
    private ConnectionPair(InMemoryConnection clientTransport, InMemoryConnection serverTransport, MultiplexedConnection client, MultiplexedConnection server, Acceptor acceptor)
    {
        ClientTransport = clientTransport;
        ServerTransport = serverTransport;
        Client = client;
        Server = server;
        Calls = acceptor;
    }

    public InMemoryConnection ClientTransport { get; }

    public InMemoryConnection ServerTransport { get; }

    public MultiplexedConnection Client { get; }

    public MultiplexedConnection Server { get; }

    public Acceptor Calls { get; }

    public static async Task<ConnectionPair> StartAsync(ConnectionOptions? options = null, ConnectionOptions? serverOptions = null, Action<MultiplexedConnection, CallStream, CallStart>? onCall = null, ICallAcceptor? acceptor = null)
    {
        options ??= new ConnectionOptions();
        var (clientTransport, serverTransport) = InMemoryConnection.CreatePair();
        var collector = new Acceptor(onCall);
        var client = new MultiplexedConnection(clientTransport, options, acceptor: null, NullLogger.Instance);
        var server = new MultiplexedConnection(serverTransport, serverOptions ?? options, acceptor ?? collector, NullLogger.Instance);
        await Task.WhenAll(client.StartAsync(CancellationToken.None), server.StartAsync(CancellationToken.None)).DefaultTimeout();
        return new ConnectionPair(clientTransport, serverTransport, client, server, collector);
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync().DefaultTimeout();
        await Server.DisposeAsync().DefaultTimeout();
    }

    /// <summary>Polls <paramref name="condition"/> until it holds, failing after the default timeout.</summary>
    public static async Task WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Infrastructure.TaskExtensions.DefaultTimeoutSpan;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Never happened: " + what);
            }

            await Task.Delay(5);
        }
    }

    /// <summary>The server's side: collects the streams clients start, or runs a test's hook on them.</summary>
    internal sealed class Acceptor(Action<MultiplexedConnection, CallStream, CallStart>? onCall) : ICallAcceptor
    {
        private readonly BlockingCollection<CallStream> _streams = [];

        public void OnCallStarted(MultiplexedConnection connection, CallStream stream, CallStart start)
        {
            if (onCall is not null)
            {
                onCall(connection, stream, start);
            }
            else
            {
                _streams.Add(stream);
            }
        }

        public string? FindKnownPath(ReadOnlySpan<char> path) => null;

        public Task<CallStream> NextAsync() => Task.Run(() => _streams.Take()).DefaultTimeout();
    }
}

using System.Net.Sockets;
using Rpc.Client;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Rpc.Transports.Sockets;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>A listener takes its socket path safely and gives back only what is its own.</summary>
public sealed class UnixSocketPathTests
{
    private static readonly UnixSocketTransport Transport = new(new UnixSocketTransportOptions());

    [Fact]
    public async Task BindAsync_RegularFileAtPath_FailsNamingThePathAndLeavesTheFileAlone()
    {
        var path = TestPaths.NewSocketPath();
        await File.WriteAllTextAsync(path, "a user's notes");
        try
        {
            var ex = await Assert.ThrowsAsync<AddressInUseException>(() => BindAsync(path));
            Assert.Contains(path, ex.Message, StringComparison.Ordinal);
            Assert.Contains("not a socket", ex.Message, StringComparison.Ordinal);
            Assert.Equal("a user's notes", await File.ReadAllTextAsync(path));
            Assert.False(File.Exists(path + ".lock"), "A failed bind must give its lock file back.");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task BindAsync_StaleSocket_IsReplacedAndServes()
    {
        var path = TestPaths.NewSocketPath();
        LeaveStaleSocket(path);

        await using var listener = await BindAsync(path);
        var accept = listener.AcceptAsync().AsTask();
        await using var client = await Transport.ConnectAsync(listener.Address, CancellationToken.None).DefaultTimeout();
        await using var accepted = await accept.DefaultTimeout();
        Assert.NotNull(accepted);
    }

    [Fact]
    public async Task BindAsync_TwoServersAtOnceOnStaleSocket_ExactlyOneListens()
    {
        for (var trial = 0; trial < 20; trial++)
        {
            var path = TestPaths.NewSocketPath();
            LeaveStaleSocket(path);
            using var start = new Barrier(2);
            var binds = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
            {
                start.SignalAndWait(Infrastructure.TaskExtensions.DefaultTimeoutSpan);
                try
                {
                    return await BindAsync(path);
                }
                catch (AddressInUseException)
                {
                    return null;
                }
            })).ToArray();

            var listeners = (await Task.WhenAll(binds).DefaultTimeout()).OfType<ITransportListener>().ToArray();
            try
            {
                Assert.Single(listeners);
            }
            finally
            {
                foreach (var listener in listeners)
                {
                    await listener.DisposeAsync();
                }

                File.Delete(path);
            }
        }
    }

    [Fact]
    public async Task DisposeAsync_RemovesItsSocketAndLockFile()
    {
        var path = TestPaths.NewSocketPath();
        var listener = await BindAsync(path);
        Assert.True(File.Exists(path));
        Assert.True(File.Exists(path + ".lock"));

        await listener.DisposeAsync().DefaultTimeout();

        Assert.False(File.Exists(path));
        Assert.False(File.Exists(path + ".lock"));
    }

    [Fact]
    public async Task DisposeAsync_SocketReplacedByAnother_LeavesTheReplacementAlone()
    {
        var path = TestPaths.NewSocketPath();
        var listener = await BindAsync(path);
        // Someone removed our socket and another server bound the path meanwhile.
        File.Delete(path);
        using var other = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        other.Bind(new UnixDomainSocketEndPoint(path));
        other.Listen();
        try
        {
            await listener.DisposeAsync().DefaultTimeout();

            Assert.True(File.Exists(path), "Disposing removed a socket that was not its own.");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task BindAsync_MissingDirectory_NamesTheDirectory()
    {
        var directory = Path.Combine(Path.GetTempPath(), "rpct-missing-" + Guid.NewGuid().ToString("N")[..8]);
        var ex = await Assert.ThrowsAsync<DirectoryNotFoundException>(() => BindAsync(Path.Combine(directory, "x.sock")));
        Assert.Contains(directory, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_MissingRelativePath_SaysNoSuchFileAndNamesTheFullPath()
    {
        var name = $"rpct-{Guid.NewGuid():N}"[..17] + ".sock";
        var ex = await Assert.ThrowsAsync<ConnectionFailedException>(() => Transport.ConnectAsync(TransportAddress.Parse("unix:" + name), CancellationToken.None).AsTask()).DefaultTimeout();
        Assert.Contains("no such file", ex.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(Directory.GetCurrentDirectory(), name), ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("AddressNotAvailable", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_MissingDirectory_NamesTheDirectory()
    {
        var directory = Path.Combine(Path.GetTempPath(), "rpct-missing-" + Guid.NewGuid().ToString("N")[..8]);
        var ex = await Assert.ThrowsAsync<ConnectionFailedException>(() => Transport.ConnectAsync(TransportAddress.Parse("unix://" + directory + "/x.sock"), CancellationToken.None).AsTask()).DefaultTimeout();
        Assert.Contains($"the directory '{directory}' does not exist", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("unix://tmp/x.sock", "unix:///tmp/x.sock", "unix:tmp/x.sock")]
    [InlineData("unix://localhost/run/x.sock", "unix:///localhost/run/x.sock", "unix:localhost/run/x.sock")]
    public void ForAddress_HostPart_RejectedShowingTheRightForms(string address, string absolute, string relative)
    {
        var ex = Assert.Throws<ArgumentException>(() => RpcChannel.ForAddress(address));
        Assert.Contains("names a host", ex.Message, StringComparison.Ordinal);
        Assert.Contains(absolute, ex.Message, StringComparison.Ordinal);
        Assert.Contains(relative, ex.Message, StringComparison.Ordinal);
    }

    private static async Task<ITransportListener> BindAsync(string path) =>
        await Transport.BindAsync(TransportAddress.Parse("unix://" + path), new ListenOptions(), CancellationToken.None).DefaultTimeout();

    /// <summary>A socket file nobody accepts on, as a crashed server leaves behind.</summary>
    private static void LeaveStaleSocket(string path)
    {
        using var crashed = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        crashed.Bind(new UnixDomainSocketEndPoint(path));
    }
}

using System.Diagnostics;
using System.IO.Pipes;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Rpc.Transports.Internal;
using Rpc.Transports.Pipes;
using Rpc.Transports.Sockets;
using Rpc.Transports.Tcp;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>Transports give back what they open, and refuse settings that would stall a connection.</summary>
[Collection(RunsAlone.Name)]
public sealed class TransportResourceTests
{
    [Fact]
    public async Task ConnectAsync_TcpCancelled_ClosesItsSocket()
    {
        var transport = new TcpTransport(new TcpTransportOptions());
        var address = TransportAddress.Parse("tcp://127.0.0.1:9");
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var before = OpenDescriptors();

        for (var i = 0; i < 200; i++)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => transport.ConnectAsync(address, cancelled.Token).AsTask()).DefaultTimeout();
        }

        // Each leaked socket would hold a descriptor until a finalizer ran; a little slack for the runtime's own.
        Assert.InRange(OpenDescriptors() - before, int.MinValue, 20);
    }

    [Fact]
    public async Task StartChild_ParentsEndsOfThePipes_AreNotInheritable()
    {
        var info = new ProcessStartInfo("dotnet");
        info.ArgumentList.Add(TestPaths.TestServerDll);
        info.ArgumentList.Add("--parent-pipes");
        var (child, transport) = AnonymousPipeTransport.StartChild(info);
        try
        {
            var parent = Assert.IsType<AnonymousPipeTransport.ParentTransport>(transport);
            Assert.All(parent.Handles, handle => Assert.False(Inheritance.IsInheritable(handle), "A process started later would inherit the parent's end."));
        }
        finally
        {
            await ((IAsyncDisposable)transport).DisposeAsync();
            // Closing our ends lets the child go by itself; bounded, then killed.
            try
            {
                await child.WaitForExitAsync().DefaultTimeout();
            }
            catch (TimeoutException)
            {
                child.Kill();
            }

            child.Dispose();
        }
    }

    [Fact]
    public async Task ListenOnParentPipes_InheritedEnds_AreNoLongerInheritable()
    {
        using var toChild = new AnonymousPipeServerStream(PipeDirection.Out, HandleInheritability.Inheritable);
        using var fromChild = new AnonymousPipeServerStream(PipeDirection.In, HandleInheritability.Inheritable);
        Assert.True(Inheritance.IsInheritable(toChild.ClientSafePipeHandle), "The test needs inheritable ends to start from.");
        Environment.SetEnvironmentVariable(AnonymousPipeTransport.HandlesVariable, $"{toChild.GetClientHandleAsString()},{fromChild.GetClientHandleAsString()}");

        await using var listener = AnonymousPipeTransport.ListenOnParentPipes();

        Assert.False(Inheritance.IsInheritable(toChild.ClientSafePipeHandle), "A grandchild would inherit the pipe from the parent.");
        Assert.False(Inheritance.IsInheritable(fromChild.ClientSafePipeHandle), "A grandchild would inherit the pipe to the parent.");
        Assert.Null(Environment.GetEnvironmentVariable(AnonymousPipeTransport.HandlesVariable));
    }

    [Fact]
    public void MaxBufferSize_BelowOneFrameAndHeader_IsRefusedNamingTheOptionAndMinimum()
    {
        var unix = Assert.Throws<ArgumentOutOfRangeException>(() => new UnixSocketTransportOptions { MaxBufferSize = 64 * 1024 });
        Assert.Contains("UnixSocketTransportOptions.MaxBufferSize", unix.Message, StringComparison.Ordinal);
        Assert.Contains(BufferLimits.MinMaxBufferSize.ToString(System.Globalization.CultureInfo.InvariantCulture), unix.Message, StringComparison.Ordinal);

        var tcp = Assert.Throws<ArgumentOutOfRangeException>(() => new TcpTransportOptions { MaxBufferSize = BufferLimits.MinMaxBufferSize - 1 });
        Assert.Contains("TcpTransportOptions.MaxBufferSize", tcp.Message, StringComparison.Ordinal);

        Assert.Equal(BufferLimits.MinMaxBufferSize, new TcpTransportOptions { MaxBufferSize = BufferLimits.MinMaxBufferSize }.MaxBufferSize);
    }

    private static int OpenDescriptors() => Directory.GetFiles("/proc/self/fd").Length;
}

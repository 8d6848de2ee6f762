using System.Net;
using System.Net.Sockets;
using Rpc.Tests.Transports;
using Rpc.Transports;
using Rpc.Transports.MessageQueues;
using Xunit;
using Xunit.Abstractions;

namespace Rpc.Tests.Faults;

public sealed class MessageQueueFaultTests(ITestOutputHelper output) : ProcessFaultTests(output)
{
    protected override string NewAddress() => $"mq://rpct-{Guid.NewGuid():N}";

    protected override EndPoint RawEndPoint(string address) => new UnixDomainSocketEndPoint(Rendezvous(address));

    protected override void RemoveLeftovers(string address)
    {
        File.Delete(Rendezvous(address));
        File.Delete(Rendezvous(address) + ".lock");
        // Nothing else may be left: a killed server's queues were unlinked when the client opened them.
        Assert.Empty(MessageQueueEntries.Of(address["mq://".Length..]));
    }

    private static string Rendezvous(string address) =>
        new MessageQueueTransport(new MessageQueueTransportOptions()).GetRendezvousPath(TransportAddress.Parse(address));
}

using Rpc.Tests.Transports;
using Rpc.Transports;
using Rpc.Transports.MessageQueues;
using Xunit;

namespace Rpc.Tests.Conformance;

public sealed class MessageQueueConformanceTests : ConformanceTests
{
    protected override string NewAddress() => $"mq://rpct-{Guid.NewGuid():N}";

    protected override void AssertReleased(string address, bool graceful)
    {
        var rendezvous = new MessageQueueTransport(new MessageQueueTransportOptions()).GetRendezvousPath(TransportAddress.Parse(address));
        if (graceful)
        {
            Assert.False(File.Exists(rendezvous), $"The server left {rendezvous} behind.");
            Assert.False(File.Exists(rendezvous + ".lock"), $"The server left its lock file {rendezvous}.lock behind.");
        }
        else
        {
            // A killed server cannot clean up; the next server on the name would take both over.
            File.Delete(rendezvous);
            File.Delete(rendezvous + ".lock");
        }

        // Queues are unlinked as soon as both sides hold them, so even a killed server leaves none.
        Assert.Empty(MessageQueueEntries.Of(address["mq://".Length..]));
    }
}

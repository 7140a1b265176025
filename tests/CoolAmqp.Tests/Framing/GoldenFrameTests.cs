using System;
using System.Buffers;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Framing;

/// <summary>
/// Whole frames checked against bytes worked out by hand from the spec: frame layout 4.2.3 (type, channel, size,
/// payload, 0xCE), method payload 4.2.4 (class id, method id, arguments), field encoding 4.2.5 (big-endian
/// integers, shortstr = length octet + bytes, longstr/table = 32-bit length + bytes, consecutive bits packed into
/// one octet from the least significant bit), content header 4.2.6.1.
/// </summary>
public class GoldenFrameTests
{
    private static byte[] MethodFrame<T>(ushort channel, T method)
        where T : struct, IAmqpMethod
    {
        byte[] buffer = new byte[FrameEncoder.MethodFrameSize(method)];
        Assert.That(FrameEncoder.WriteMethodFrame(buffer, channel, method), Is.EqualTo(buffer.Length));
        return buffer;
    }

    private static ReadOnlySpan<byte> SinglePayload(byte[] frame, FrameType type, ushort channel)
    {
        var sequence = new ReadOnlySequence<byte>(frame);
        Assert.That(FrameDecoder.TryReadFrame(sequence, 131072, out FrameHeader header, out ReadOnlySequence<byte> payload, out SequencePosition next), Is.True);
        Assert.That(header.Type, Is.EqualTo(type));
        Assert.That(header.Channel, Is.EqualTo(channel));
        Assert.That(sequence.Slice(next).Length, Is.Zero);
        return payload.FirstSpan;
    }

    [Test]
    public void Connection_start_ok()
    {
        var method = new ConnectionStartOk(
            new FieldTable { ["product"] = "CoolAmqp" },
            "PLAIN",
            "\0guest\0guest"u8.ToArray(),
            "en_US");

        byte[] expected = Hex.Parse(
            "01 | 0000 | 00000039" +                 // method frame, channel 0, payload 57
            "000A 000B" +                            // connection (10) . start-ok (11)
            "00000015" +                             // client-properties: table of 21 bytes
            "  07 70726F64756374" +                  //   key "product"
            "  53 00000008 436F6F6C416D7170" +       //   'S' longstr "CoolAmqp"
            "05 504C41494E" +                        // mechanism shortstr "PLAIN"
            "0000000C 00677565737400677565737" + "4" + // response longstr "\0guest\0guest"
            "05 656E5F5553" +                        // locale shortstr "en_US"
            "CE");
        byte[] actual = MethodFrame(0, method);
        Assert.That(Hex.Format(actual), Is.EqualTo(Hex.Format(expected)));

        ReadOnlySpan<byte> payload = SinglePayload(expected, FrameType.Method, 0);
        ConnectionStartOk.Reader reader = ConnectionStartOk.Read(payload.Slice(4));
        Assert.That(reader.Mechanism, Is.EqualTo("PLAIN"));
        Assert.That(reader.Response.SequenceEqual("\0guest\0guest"u8), Is.True);
        Assert.That(reader.Locale, Is.EqualTo("en_US"));
        Assert.That(reader.ClientProperties["product"], Is.EqualTo("CoolAmqp"));
    }

    [Test]
    public void Basic_publish()
    {
        var method = new BasicPublish("ex", "rk", mandatory: true, immediate: false);
        byte[] expected = Hex.Parse(
            "01 | 0001 | 0000000D" +  // method frame, channel 1, payload 13
            "003C 0028" +             // basic (60) . publish (40)
            "0000" +                  // reserved-1 (ticket)
            "02 6578" +               // exchange "ex"
            "02 726B" +               // routing-key "rk"
            "01" +                    // bits: mandatory (bit 0) set, immediate (bit 1) clear
            "CE");
        Assert.That(Hex.Format(MethodFrame(1, method)), Is.EqualTo(Hex.Format(expected)));

        BasicPublish.Reader reader = BasicPublish.Read(SinglePayload(expected, FrameType.Method, 1).Slice(4));
        Assert.That(reader.ToMethod(), Is.EqualTo(method));
    }

    [Test]
    public void Basic_deliver()
    {
        byte[] frame = Hex.Parse(
            "01 | 0001 | 00000016" +  // method frame, channel 1, payload 22
            "003C 003C" +             // basic (60) . deliver (60)
            "04 63746167" +           // consumer-tag "ctag"
            "0000000000000005" +      // delivery-tag 5
            "01" +                    // redelivered
            "00" +                    // exchange "" (default)
            "02 726B" +               // routing-key "rk"
            "CE");
        ReadOnlySpan<byte> payload = SinglePayload(frame, FrameType.Method, 1);
        Assert.That(payload.Slice(0, 4).ToArray(), Is.EqualTo(new byte[] { 0, 60, 0, 60 }));
        BasicDeliver.Reader reader = BasicDeliver.Read(payload.Slice(4));
        Assert.That(reader.ConsumerTagBytes.SequenceEqual("ctag"u8), Is.True);
        Assert.That(reader.DeliveryTag, Is.EqualTo(5UL));
        Assert.That(reader.Redelivered, Is.True);
        Assert.That(reader.ExchangeBytes.IsEmpty, Is.True);
        Assert.That(reader.RoutingKey, Is.EqualTo("rk"));

        var method = new BasicDeliver("ctag", 5, redelivered: true, "", "rk");
        Assert.That(Hex.Format(MethodFrame(1, method)), Is.EqualTo(Hex.Format(frame)));
    }

    [Test]
    public void Queue_declare_packs_five_bits_into_one_octet()
    {
        var method = new QueueDeclare("q", passive: false, durable: true, exclusive: false, autoDelete: true, noWait: false,
            new FieldTable { ["x-message-ttl"] = 60000 });
        byte[] expected = Hex.Parse(
            "01 | 0002 | 00000020" +              // method frame, channel 2, payload 32
            "0032 000A" +                         // queue (50) . declare (10)
            "0000" +                              // reserved-1 (ticket)
            "01 71" +                             // queue "q"
            "0A" +                                // bits: passive 0x01 no, durable 0x02 yes, exclusive 0x04 no, auto-delete 0x08 yes, no-wait 0x10 no
            "00000013" +                          // arguments: table of 19 bytes
            "  0D 782D6D6573736167652D74746C" +   //   key "x-message-ttl"
            "  49 0000EA60" +                     //   'I' signed 32-bit 60000
            "CE");
        Assert.That(Hex.Format(MethodFrame(2, method)), Is.EqualTo(Hex.Format(expected)));

        var all = method with { Passive = true, Exclusive = true, NoWait = true, Durable = true, AutoDelete = true, Arguments = null };
        byte[] allBits = MethodFrame(2, all);
        Assert.That(Hex.Format(allBits.AsSpan(7, allBits.Length - 8)), Is.EqualTo(Hex.Format(Hex.Parse("0032 000A 0000 0171 1F 00000000"))));

        QueueDeclare.Reader reader = QueueDeclare.Read(SinglePayload(expected, FrameType.Method, 2).Slice(4));
        Assert.That(reader.Durable && reader.AutoDelete && !reader.Passive && !reader.Exclusive && !reader.NoWait, Is.True);
        Assert.That(reader.Arguments["x-message-ttl"], Is.EqualTo(60000));
    }

    [Test]
    public void Connection_close_frame_uses_its_own_ids_not_its_class_id_field()
    {
        // connection.close has fields named class-id and method-id (the failing method); the frame must still
        // carry connection (10) . close (50).
        var method = new ConnectionClose(404, "NOT_FOUND", 60, 40);
        byte[] expected = Hex.Parse(
            "01 | 0000 | 00000014" +      // method frame, channel 0, payload 20
            "000A 0032" +                 // connection (10) . close (50)
            "0194" +                      // reply-code 404
            "09 4E4F545F464F554E44" +     // reply-text "NOT_FOUND"
            "003C 0028" +                 // failing class-id 60, method-id 40 (basic.publish)
            "CE");
        Assert.That(Hex.Format(MethodFrame(0, method)), Is.EqualTo(Hex.Format(expected)));
    }

    [Test]
    public void Content_header_with_zero_priority_and_headers()
    {
        var properties = new BasicProperties
        {
            ContentType = "text/plain",
            Headers = new FieldTable { ["k"] = "v" },
            DeliveryMode = 2,
            Priority = 0,
        };
        byte[] expected = Hex.Parse(
            "02 | 0001 | 00000027" +              // header frame, channel 1, payload 39
            "003C" +                              // class basic (60)
            "0000" +                              // weight 0
            "0000000000000005" +                  // body size 5
            "B800" +                              // flags: content-type 15, headers 13, delivery-mode 12, priority 11
            "0A 746578742F706C61696E" +           // content-type "text/plain"
            "00000008 016B 53 00000001 76" +      // headers: table of 8 bytes {"k": S "v"}
            "02" +                                // delivery-mode 2 (persistent)
            "00" +                                // priority 0: present because its flag is set
            "CE");

        byte[] actual = new byte[FrameEncoder.ContentHeaderFrameSize(properties)];
        Assert.That(FrameEncoder.WriteContentHeaderFrame(actual, 1, 60, 5, properties), Is.EqualTo(actual.Length));
        Assert.That(Hex.Format(actual), Is.EqualTo(Hex.Format(expected)));

        ContentHeader.Reader reader = ContentHeader.Read(SinglePayload(expected, FrameType.Header, 1));
        Assert.That(reader.ClassId, Is.EqualTo(60));
        Assert.That(reader.BodySize, Is.EqualTo(5UL));
        Assert.That(reader.Properties.HasPriority, Is.True);
        Assert.That(reader.Properties.Priority, Is.EqualTo((byte)0));
        Assert.That(reader.Properties.HasTimestamp, Is.False);
        Assert.That(reader.Properties.ToProperties(), Is.EqualTo(properties));
    }

    [Test]
    public void Body_and_heartbeat_frames()
    {
        byte[] body = new byte[FrameEncoder.BodyFramesSize(5, 131072)];
        FrameEncoder.WriteBodyFrames(body, 1, "hello"u8, 131072);
        Assert.That(Hex.Format(body), Is.EqualTo("03" + "0001" + "00000005" + "68656C6C6F" + "CE")); // body frame, channel 1, "hello"

        byte[] heartbeat = new byte[8];
        Assert.That(FrameEncoder.WriteHeartbeat(heartbeat), Is.EqualTo(8));
        Assert.That(Hex.Format(heartbeat), Is.EqualTo("08" + "0000" + "00000000" + "CE")); // type 8, channel 0, size 0, frame-end

        Assert.That(Hex.Format(FrameEncoder.ProtocolHeader), Is.EqualTo("414D515000000901"));
    }
}

#!/usr/bin/perl
# tools/networks_mmdb.pl IN.tsv OUT.mmdb — turns the network owners that
# `riskd generate --realistic --networks IN.tsv` writes ("NETWORK TAB ASN
# TAB ORGANISATION" lines) into a GeoLite2-ASN-like MaxMind database, the
# one a site would pass to riskd as --asn-db, with Debian's
# libmaxmind-db-writer-perl.
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my ($in, $out) = @ARGV;
die "usage: networks_mmdb.pl IN.tsv OUT.mmdb\n" unless defined $out;
my %types = (autonomous_system_number => 'uint32', autonomous_system_organization => 'utf8_string');
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version => 6, record_size => 24, database_type => 'GeoLite2-ASN', languages => ['en'],
    remove_reserved_networks => 0,   # generated traffic uses reserved ranges too (100.64.0.0/10)
    description => { en => 'riskd generated network owners' }, map_key_type_callback => sub { $types{ $_[0] } },
);
open my $fh, '<', $in or die "$in: $!\n";
while (my $line = <$fh>) {
    chomp $line;
    next if $line eq '' || $line =~ /^#/;
    my ($net, $asn, $org) = split /\t/, $line, 3;
    die "$in:$.: expected NETWORK TAB ASN TAB ORGANISATION\n" unless defined $org && $asn =~ /^\d+$/;
    $tree->insert_network($net, { autonomous_system_number => $asn + 0, autonomous_system_organization => $org });
}
close $fh;
open my $o, '>:raw', $out or die "$out: $!\n";
$tree->write_tree($o);
close $o or die "$out: $!\n";

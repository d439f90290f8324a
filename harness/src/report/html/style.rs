//! results.html's stylesheet and script, inlined so that the file is all a
//! projector, a phone or a printer needs: nothing is fetched.

/// Large type and strong contrast (read from the back of a room); a narrow
/// screen gets one column and tables that scroll inside themselves, never the
/// page; print opens every fold and drops the controls.
pub const STYLE: &str = "
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;font-size:19px;line-height:1.45;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#111;background:#fff;overflow-wrap:anywhere}
h1{font-size:1.9em;margin:.2em 0}h2{margin-top:2em;border-bottom:3px solid #333}
a{color:#0645ad}
.tally{font-size:1.3em;font-weight:bold;padding:.5em;background:#eef;border-radius:6px}
table{border-collapse:collapse;margin:.5em 0;font-size:.85em;display:block;overflow-x:auto;max-width:100%}
th,td{border:1px solid #bbb;padding:.2em .5em;vertical-align:top;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th{background:#eee;overflow-wrap:normal}
code{overflow-wrap:anywhere}
.confirmed,.upheld{background:#d7f5d7}.refuted{background:#ffd8d0}.inconclusive,.undecided{background:#eee}
.expected{background:#fff0c8}
.chart{margin:1em 0}.chart svg{max-width:100%;height:auto;display:block}
figcaption{font-size:.85em;color:#444}
details{margin:.4em 0}summary{cursor:pointer;font-weight:bold}
.muted{color:#555}
nav#contents{background:#f6f6f6;border-radius:6px;padding:.5em 1em}
nav#contents ol{margin:.2em 0;padding-left:1.4em}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,34em),1fr));gap:1em}
.card{border:2px solid #888;border-radius:8px;padding:.6em .9em;background:#fff}
.card h3{margin:.1em 0 .3em;font-size:1.3em}
.card ul{list-style:none;padding:0;margin:.4em 0}
.card li{margin:.5em 0;padding-left:.5em;border-left:6px solid #bbb}
.card li.refuted{border-left-color:#d33;background:none}.card li.confirmed{border-left-color:#3a3;background:none}
.card li.inconclusive{border-left-color:#999;background:none}
.badge{display:inline-block;font-weight:bold;font-size:.8em;padding:0 .4em;border-radius:4px;margin-right:.3em}
.badge.confirmed{background:#bfeabf}.badge.refuted{background:#ffbcae}.badge.inconclusive{background:#ddd}.badge.expected{background:#ffe39a}
.figure{font-weight:bold;font-variant-numeric:tabular-nums}
.why{font-size:.9em;color:#333}
.variants a{font-size:.8em;margin-right:.4em;white-space:nowrap}
.links{font-size:.9em}
#slide-controls{display:flex;flex-wrap:wrap;gap:.5em;align-items:center}
#slide-controls select,#slide-controls button{font-size:1em;max-width:100%}
#slideshow{position:fixed;inset:0;background:#fff;z-index:10;overflow:auto;padding:2vh 4vw;font-size:clamp(18px,2.6vw,34px)}
#slideshow[hidden],.slide[hidden]{display:none}
#slideshow .bar{display:flex;justify-content:space-between;gap:1em;font-size:.6em;color:#444}
#slideshow button{font-size:1em}
.slide h2{font-size:1.6em;border:none;margin:.3em 0}
.slide .caption{font-size:1em;max-width:40em}
.slide table{font-size:.8em}
.slide td{overflow-wrap:normal}
#slideshow:focus{outline:none}
.slide td.n{font-size:1.1em}
@media (max-width:700px){
 body{font-size:16px;margin:.5em auto;padding:0 .5em}
 h1{font-size:1.4em}
 h2{font-size:1.25em}
 .tally{font-size:1.05em}
 table{font-size:.8em}
 .card{padding:.4em .5em}
}
@media print{
 body{font-size:11pt;max-width:none;margin:0}
 nav#contents,#slide-view,#slideshow,.links{display:none}
 .card,figure,tr{break-inside:avoid}
 h2{break-before:auto;break-after:avoid}
 a{color:inherit;text-decoration:none}
 table{display:table;overflow:visible}
}
";

/// The slide view: the chosen variant's checkpoints one per screen; arrow
/// keys (and Page Up/Down, space) move, Escape closes. A link to something
/// inside a fold opens the fold. Printing opens every
/// fold first, so that the paper shows what the folds hide.
pub const SCRIPT: &str = "
(function(){
 var show=document.getElementById('slideshow'),pick=document.getElementById('slide-variant');
 var slides=[],at=0;
 function draw(){
  var all=show.querySelectorAll('.slide');
  for(var i=0;i<all.length;i++)all[i].hidden=true;
  if(!slides.length)return;
  slides[at].hidden=false;
  document.getElementById('slide-count').textContent=(at+1)+' / '+slides.length;
  show.dataset.at=String(at);
 }
 function open(){
  slides=Array.prototype.slice.call(show.querySelectorAll('.slide[data-variant=\"'+pick.value+'\"]'));
  at=0;show.hidden=false;draw();show.focus();
 }
 function close(){show.hidden=true;}
 function move(d){if(!slides.length)return;at=Math.max(0,Math.min(slides.length-1,at+d));draw();}
 document.getElementById('slide-start').addEventListener('click',open);
 document.getElementById('slide-prev').addEventListener('click',function(){move(-1);});
 document.getElementById('slide-next').addEventListener('click',function(){move(1);});
 document.getElementById('slide-close').addEventListener('click',close);
 document.addEventListener('keydown',function(e){
  if(show.hidden)return;
  if(e.key==='ArrowRight'||e.key==='PageDown'||e.key===' '){move(1);e.preventDefault();}
  else if(e.key==='ArrowLeft'||e.key==='PageUp'){move(-1);e.preventDefault();}
  else if(e.key==='Home'){at=0;draw();}
  else if(e.key==='End'){at=slides.length-1;draw();}
  else if(e.key==='Escape'){close();}
 });
 function reveal(){
  var id=decodeURIComponent(location.hash.slice(1)),e=id&&document.getElementById(id);
  for(var p=e;p;p=p.parentElement){if(p.tagName==='DETAILS')p.open=true;}
  if(e)e.scrollIntoView();
 }
 window.addEventListener('hashchange',reveal);reveal();
 window.addEventListener('beforeprint',function(){
  var d=document.querySelectorAll('details');for(var i=0;i<d.length;i++)d[i].open=true;
 });
})();
";
